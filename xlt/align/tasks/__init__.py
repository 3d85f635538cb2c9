"""One module per `xlt-align task=...`; each exposes `run(job, tracker, **settings)`, `job`
being xlt/align/job.py's AlignJob."""
