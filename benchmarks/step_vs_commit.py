"""The default training step, this checkout against an earlier commit (no slowdown from a
refactor): `xlt-train` of each, in a git worktree, alternating runs (old, new, old, ...), the
same config (me5_small, HSK topic, batch 32, every step logged). A run's step time is the
median interval between its logged training steps after the first two (set-up and the first
steps' allocations left out); each side's result is the median over its runs.

    .venv/bin/python benchmarks/step_vs_commit.py [--ref 71bd23a] [--runs 5] [--steps 14]

ratio = old step time / new step time (>= 1: the checkout is not slower).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, table


def step_seconds(spool: Path) -> float:
    """Median seconds between consecutive logged training steps, after the first two."""
    records = [json.loads(line) for line in spool.read_text().splitlines()]
    times = [r["time"] for r in records if "train/loss" in r["metrics"]]
    gaps = [b - a for a, b in zip(times[2:], times[3:], strict=False)]
    return statistics.median(gaps)


def one_run(checkout: Path, out: Path, steps: int) -> float:
    """`xlt-train` of `checkout` (its own package and configs) for `steps` steps."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "XLT_ROOT": str(out),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
    args = [f"dataset.limit={32 * steps}", "trainer.max_epochs=1", "trainer.log_every_n_steps=1",
            "trainer.enable_progress_bar=false", f"hydra.run.dir={out}/run"]  # fmt: skip
    subprocess.run([sys.executable, "-m", "xlt.train", *args], cwd=checkout, env=env,
                   check=True, capture_output=True)  # fmt: skip
    return step_seconds(out / "run" / "metrics.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", default="71bd23a", help="the commit to compare with")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=14)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(old), args.ref],
                       cwd=ROOT, check=True)  # fmt: skip
        try:
            times: dict[str, list[float]] = {"old": [], "new": []}
            for i in range(args.runs):
                for side, checkout in (("old", old), ("new", ROOT)):
                    times[side].append(one_run(checkout, Path(tmp) / f"{side}{i}", args.steps))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT)
    old_s, new_s = statistics.median(times["old"]), statistics.median(times["new"])
    rows = [{"checkout": f"{args.ref} (before)", "step s (median)": old_s,
             "runs": " ".join(f"{t:.3f}" for t in times["old"])},
            {"checkout": "this one", "step s (median)": new_s,
             "runs": " ".join(f"{t:.3f}" for t in times["new"])}]  # fmt: skip
    table(rows, f"Default training step, alternating runs; ratio old/new = {old_s / new_s:.3f}")


if __name__ == "__main__":
    main()
