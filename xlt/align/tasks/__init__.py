"""One module per `xlt-align task=...`; each exposes `run(cfg, tracker, **settings)`."""
