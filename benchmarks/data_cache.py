"""Data preparation: preparing the HSK splits and tokenising every split and language for
me5_small, the first time (empty caches) vs the second (cache hits), in one process. Each is
measured `--repeats` times (a fresh cache folder for every first run); the best of each is
compared, as this machine's load moves single timings by tens of milliseconds.

    .venv/bin/python benchmarks/data_cache.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from common import compose, table


def prepare(cache_dir: str) -> float:
    """The pipeline's own data steps (xlt/components.py): load, then the datamodule's set-up."""
    from xlt.components import build_data, build_datamodule
    from xlt.config.instantiate import instantiate_spec

    cfg = compose(f"paths.cache_dir={cache_dir}")  # every cache starts empty in the first run
    tokenizer = instantiate_spec(cfg.model.source, "model.source").tokenizer  # not timed: the model
    strategy, augmentation = (
        instantiate_spec(cfg.strategy, "strategy"),
        instantiate_spec(cfg.augmentation, "aug"),
    )
    start = time.perf_counter()
    data, task, source, targets = build_data(cfg)
    build_datamodule(cfg, data, tokenizer, task, strategy, augmentation, source, targets).setup(
        "fit"
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for i in range(args.repeats):
        cache = tempfile.mkdtemp(prefix="xlt-bench-cache-")
        try:
            first, second = prepare(cache), prepare(cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        rows.append({"repeat": i, "first run (s)": first, "second run (s)": second,
                     "second / first": second / first})  # fmt: skip
    first, second = min(r["first run (s)"] for r in rows), min(r["second run (s)"] for r in rows)
    rows.append({"repeat": "best", "first run (s)": first, "second run (s)": second,
                 "second / first": second / first})  # fmt: skip
    table(rows, "Data preparation, HSK topic EN+ZH all splits, me5_small tokenizer")


if __name__ == "__main__":
    main()
