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
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import table

BIN = Path(sys.executable).parent


def timed_sweep(experiment: str, overrides: list[str], scratch: Path) -> tuple[float, int, Path]:
    """Wall seconds of one `xlt-train -m`, how many trials finished, and where their logs and
    reports were kept."""
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
    kept = Path("outputs/benchmarks/sweep_wall") / scratch.name
    keep_text_outputs(scratch / "outputs", kept)
    return seconds, len(list(scratch.glob("outputs/multiruns/*/*/*/.hydra"))), kept


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


def strategy_rows(kept: Path) -> list[dict]:
    """Per strategy, from the kept trial folders: trials, the median and total trial time (first
    log line to the trial's last written file) and the mean test accuracy per language."""
    by_strategy: dict[str, list[tuple[float, dict[str, float]]]] = {}
    for log in sorted(kept.glob("multiruns/*/*/*/train.log")):
        trial = log.parent
        if not (trial / "metrics_per_language.csv").exists():
            continue  # the trial failed: the sweep's exit status and stderr say so
        overrides = (trial / ".hydra" / "overrides.yaml").read_text()
        strategy = next(x.split("=", 1)[1] for x in overrides.split() if x.startswith("strategy="))
        start = datetime.strptime(log.read_text()[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        end = max(f.stat().st_mtime for f in trial.rglob("*") if f.is_file())
        with open(trial / "metrics_per_language.csv") as f:
            accuracy = {row["language"]: float(row["test_acc"]) for row in csv.DictReader(f)}
        by_strategy.setdefault(strategy, []).append((end - start, accuracy))
    rows = []
    for strategy, trials in by_strategy.items():
        seconds = [s for s, _ in trials]
        row = {
            "strategy": strategy,
            "trials": len(trials),
            "median trial (s)": statistics.median(seconds),
            "total (min)": sum(seconds) / 60,
        }
        for lang in trials[0][1]:
            row[f"test acc {lang}"] = statistics.mean(acc[lang] for _, acc in trials)
        rows.append(row)  # fmt: skip
    return rows


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
            seconds, trials, kept = timed_sweep(args.experiment, [*extra, *args.overrides],
                                                Path(scratch))  # fmt: skip
        table(strategy_rows(kept), f"{name}: trials per strategy")
        base = base or seconds
        rows.append({"launcher": name, "trials": trials, "wall (min)": seconds / 60,
                     "speed-up": base / seconds})  # fmt: skip
    table(rows, f"experiment={args.experiment} " + " ".join(args.overrides))


if __name__ == "__main__":
    main()
