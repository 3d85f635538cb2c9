"""Sweep overhead: N trials (tiny model) as one multirun vs N separate `xlt-train` runs.

.venv/bin/python benchmarks/sweep_overhead.py [--trials 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, table

BIN = Path(sys.executable).parent
COMMON = ["model=tiny_random", "dataset.limit=64", "trainer.max_epochs=1",
          "trainer.enable_progress_bar=false"]  # fmt: skip


def timed(args: list[str]) -> float:
    env = {**os.environ, "XLT_ROOT": str(ROOT / "outputs" / "benchmarks" / "sweep"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
    start = time.perf_counter()
    subprocess.run([str(BIN / "xlt-train"), *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    seeds = list(range(args.trials))
    timed([*COMMON, "seed=0"])  # warm caches
    separate = sum(timed([*COMMON, f"seed={s}"]) for s in seeds)
    multirun = timed(["-m", *COMMON, "seed=" + ",".join(map(str, seeds))])
    table(
        [
            {
                "trials": args.trials,
                "separate runs (s)": separate,
                "one multirun (s)": multirun,
                "multirun / separate": multirun / separate,
                "per trial, multirun (s)": multirun / args.trials,
            }
        ],
        "Sweep overhead (tiny model, 64 rows, 1 epoch; the multirun adds a parent run + report)",
    )


if __name__ == "__main__":
    main()
