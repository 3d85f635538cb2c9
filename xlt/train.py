"""`xlt-train`: the Hydra entry point. Composition happens here; the work is in xlt.pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

import xlt.config  # noqa: F401  (registers the config schema and resolvers)
from xlt.errors import XltError

CONFIG_DIR = str(
    Path(__file__).resolve().parent.parent / "conf"
)  # the repo's conf/ (editable install)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    from xlt.pipeline import run

    try:
        results = run(cfg)
    except XltError as err:
        print(f"xlt: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    dev = results.get("dev", {})
    return dev.get(f"dev/acc/{cfg.dataset.source_lang}")  # the sweep objective: source dev


if __name__ == "__main__":
    main()
