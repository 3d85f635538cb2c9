"""A single run's plots, logged with it so its MLflow run page shows them (artifacts `plots/`):
the learning curve (training loss and every language's dev score over steps, from the run's
metrics spool) and the test score per language (from its per-language table).

Written in the training process, so no MLflow import here (matplotlib only, loaded lazily).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLOTS_DIR = "plots"  # in the run folder and under the run's artifacts


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    return plt


def metric_history(spool: Path) -> dict[str, list[tuple[int, float]]]:
    """{metric: [(step, value)]} of every stepped metric in the run's metrics.jsonl."""
    history: dict[str, list[tuple[int, float]]] = {}
    if not spool.is_file():
        return history
    for line in spool.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("step") is None:
            continue
        for name, value in record["metrics"].items():
            history.setdefault(name, []).append((int(record["step"]), float(value)))
    return history


def learning_curve(history: dict[str, list[tuple[int, float]]], metric: str, path: Path):
    """Training loss (left axis) and dev `metric` per language (right axis) over steps."""
    dev = {k: v for k, v in history.items() if k.startswith(f"dev/{metric}/")}
    if not history.get("train/loss") and not dev:
        return None
    plt = _pyplot()
    fig, loss_ax = plt.subplots(figsize=(7, 4))
    if history.get("train/loss"):
        steps, values = zip(*history["train/loss"], strict=True)
        loss_ax.plot(steps, values, color="0.6", label="train loss")
    loss_ax.set_xlabel("training step")
    loss_ax.set_ylabel("training loss")
    dev_ax = loss_ax.twinx()
    for name, points in sorted(dev.items()):
        steps, values = zip(*points, strict=True)
        dev_ax.plot(steps, values, marker="o", label=f"dev {name.split('/')[-1]}")
    dev_ax.set_ylabel(f"dev {metric}")
    handles = [h for ax in (loss_ax, dev_ax) for h in ax.get_legend_handles_labels()[0]]
    dev_ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.2, 1.0))
    loss_ax.set_title("Learning curve")
    return _save(plt, fig, path)


def language_scores(rows: list[dict[str, Any]], metric: str, path: Path):
    """The test `metric` per language, the source's bar apart in colour."""
    scored = [r for r in rows if r.get(f"test_{metric}") not in (None, "")]
    if not scored:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(scored) + 2), 3.5))
    colours = ["tab:orange" if r.get("role") == "source" else "tab:blue" for r in scored]
    ax.bar([str(r["language"]) for r in scored], [float(r[f"test_{metric}"]) for r in scored],
           color=colours)  # fmt: skip
    ax.set_ylabel(f"test {metric}")
    ax.set_ylim(0, 1)
    ax.set_title(f"Test {metric} per language (orange: source)")
    return _save(plt, fig, path)


def _save(plt, fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_run_plots(out_dir: Path, rows: list[dict[str, Any]], metric: str) -> Path | None:
    """Both plots into `out_dir/plots/`; the folder, or None when there was nothing to draw."""
    folder = out_dir / PLOTS_DIR
    drawn = [learning_curve(metric_history(out_dir / "metrics.jsonl"), metric,
                            folder / "learning_curve.png"),
             language_scores(rows, metric, folder / "test_by_language.png")]  # fmt: skip
    return folder if any(drawn) else None
