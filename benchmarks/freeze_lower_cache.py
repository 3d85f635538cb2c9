"""`strategy=freeze_lower` with `cache_lower=true` (the frozen embeddings and 6 lower layers run
once per row, without dropout) against the default (recomputed in every pass, with dropout):
whole 4-epoch runs (me5_small, HSK topic, default precision: fit, dev every epoch, test),
alternating in this process through `xlt.pipeline.run`, one pair per seed. Reports the median
wall time and the test accuracy of each seed: the cache removes the frozen layers' dropout,
so accuracy may move and is part of the result.

    .venv/bin/python benchmarks/freeze_lower_cache.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import table, timed_pipeline_run


def timed_run(root: Path, *overrides: str) -> tuple[float, dict]:
    return timed_pipeline_run(root, "strategy=freeze_lower", *overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="xlt-freeze-lower-bench-"))
    timed_run(root, "trainer.max_steps=1")  # warm the tokenised-data and model caches
    walls: dict[str, list[float]] = {"false": [], "true": []}
    rows = []
    for seed in args.seeds:
        for cache in ("false", "true"):
            wall, test = timed_run(root, f"strategy.cache_lower={cache}", f"seed={seed}")
            walls[cache].append(wall)
            rows.append({"cache_lower": cache, "seed": seed, "wall s": round(wall, 1),
                         "EN test acc": round(test["test/acc/en"], 4),
                         "ZH test acc": round(test["test/acc/zh"], 4)})  # fmt: skip
    table(rows, "freeze_lower: lower layers cached vs recomputed (whole runs)")
    live, cached = statistics.median(walls["false"]), statistics.median(walls["true"])
    print(f"median wall: recomputed {live:.1f} s, cached {cached:.1f} s: {live / cached:.2f}x")


if __name__ == "__main__":
    main()
