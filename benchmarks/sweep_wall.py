"""Time-to-result of a whole comparison (`experiment=compare_all_strategies`: every strategy on
HSK topic x 3 seeds), end to end as a user runs it: one trial at a time with every core
(Hydra's basic launcher) vs `hydra/launcher=joblib` with the cores split across trials
(`torch_threads` each). Each variant starts from its own empty cache (same work: tokenising,
cached features, MAD-X's language adapters) and its own MLflow store.

    .venv/bin/python benchmarks/sweep_wall.py [--jobs 2] [--experiment NAME] [overrides ...]
    make bench-sweep                          # the full comparison (about 1.5 hours here)
    .venv/bin/python benchmarks/sweep_wall.py --launchers joblib   # one launcher only
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import table

BIN = Path(sys.executable).parent


def timed_sweep(experiment: str, overrides: list[str], scratch: Path) -> tuple[float, int]:
    """Wall seconds of one `xlt-train -m` and how many trials finished."""
    env = {**os.environ, "XLT_ROOT": str(scratch), "XLT_CACHE_DIR": str(scratch / "cache"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
    args = [str(BIN / "xlt-train"), "-m", f"experiment={experiment}",
            "trainer.enable_progress_bar=false", *overrides]  # fmt: skip
    start = time.perf_counter()
    with open(scratch / "stderr.txt", "w") as stderr:
        done = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    seconds = time.perf_counter() - start
    if done.returncode != 0:  # keep the evidence: the scratch folder goes away
        kept = Path("outputs/benchmarks/sweep_wall_failed")
        kept.mkdir(parents=True, exist_ok=True)
        (kept / "stderr.txt").write_text((scratch / "stderr.txt").read_text())
        for log in scratch.glob("outputs/multiruns/*/*/*/train.log"):
            (kept / f"trial-{log.parent.name}.log").write_text(log.read_text())
        sys.exit(f"the sweep failed after {seconds / 60:.1f} min (a trial failed): see {kept}/")
    keep_text_outputs(scratch / "outputs", Path("outputs/benchmarks/sweep_wall") / scratch.name)
    return seconds, len(list(scratch.glob("outputs/multiruns/*/*/*/.hydra")))


def keep_text_outputs(outputs: Path, kept: Path) -> None:
    """Copy each trial's logs, configs and reports (not checkpoints) out of the scratch folder,
    so per-strategy times and accuracies can be read after the sweep."""
    for path in outputs.rglob("*"):
        small_text = path.suffix in {".log", ".json", ".yaml", ".md", ".csv", ".txt"}
        if path.is_file() and small_text and path.stat().st_size < 1_000_000:
            target = kept / path.relative_to(outputs)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)  # keeps the time it was written: trial durations
    print(f"trial logs and reports kept in {kept}/", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2, help="parallel trials with joblib")
    parser.add_argument(
        "--experiment",
        default="compare_all_strategies",
        help="a declared sweep (compare_strategies: 2 strategies x 3 seeds)",
    )
    parser.add_argument(
        "--launchers",
        nargs="+",
        choices=["sequential", "joblib"],
        default=["sequential", "joblib"],
        help="which to time, in this order",
    )
    parser.add_argument("overrides", nargs="*", help="e.g. trainer.max_epochs=1 seed=0")
    args = parser.parse_args()
    threads = max(1, (os.cpu_count() or 2) // args.jobs)
    variants = {
        "sequential": ("sequential (basic launcher, all cores)", []),
        "joblib": (f"joblib, {args.jobs} trials x {threads} threads", [
            "hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.jobs}",
            f"torch_threads={threads}"]),
    }  # fmt: skip
    rows, base = [], None
    for name, extra in (variants[launcher] for launcher in args.launchers):
        with tempfile.TemporaryDirectory(prefix="sweep-wall-") as scratch:
            seconds, trials = timed_sweep(args.experiment, [*extra, *args.overrides],
                                          Path(scratch))  # fmt: skip
        base = base or seconds
        rows.append({"launcher": name, "trials": trials, "wall (min)": seconds / 60,
                     "speed-up": base / seconds})  # fmt: skip
    table(rows, f"experiment={args.experiment} " + " ".join(args.overrides))


if __name__ == "__main__":
    main()
