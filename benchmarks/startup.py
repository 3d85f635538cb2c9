"""Start-up overhead: wall time from launching `xlt-train` (tiny model, cached data) to its first
training step, against the bare `import torch, transformers, lightning` measured in the same run,
alternating. This machine's load varies by seconds between runs: the "best" row (the fastest of
each) is the least disturbed comparison, the "mean" row the typical one.

    .venv/bin/python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, table

BIN = Path(sys.executable).parent


def bare_imports() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, transformers, lightning"], check=True)
    return time.perf_counter() - start


def first_step(root: Path) -> float:
    env = {**os.environ, "XLT_ROOT": str(root), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(
        [str(BIN / "xlt-train"), "model=tiny_random", "dataset.limit=64", "trainer.max_steps=1",
         "trainer.enable_progress_bar=false", "trainer.limit_val_batches=1",
         "trainer.limit_test_batches=1"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"first training step ([\d.]+) s", proc.stdout + proc.stderr)
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    root = ROOT / "outputs" / "benchmarks" / "startup"
    first_step(root)  # warm the tokenisation cache and the OS file cache once
    rows = []
    for i in range(args.repeats):
        imports, step = bare_imports(), first_step(root)
        rows.append({"repeat": i, "bare imports (s)": imports, "launch -> first step (s)": step,
                     "overhead (s)": step - imports})  # fmt: skip
    keys = ("bare imports (s)", "launch -> first step (s)")
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    best = {k: min(r[k] for r in rows) for k in keys}  # the least disturbed by other load
    rows.append({"repeat": "mean", **mean, "overhead (s)": mean[keys[1]] - mean[keys[0]]})
    rows.append({"repeat": "best", **best, "overhead (s)": best[keys[1]] - best[keys[0]]})
    table(rows, "Start-up: xlt-train (tiny model, cached data) vs bare imports, same session")


if __name__ == "__main__":
    main()
