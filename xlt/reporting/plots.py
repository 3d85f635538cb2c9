"""Figures for a sweep: per-language accuracy by configuration, source-to-target transfer
matrix when sources vary, and learning curves on the selection metric."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from xlt.reporting.aggregate import languages  # noqa: E402


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _label(row: pd.Series, keys: list[str]) -> str:
    return " / ".join(str(row[k]) for k in keys) or "all runs"


def language_bars(summary: pd.DataFrame, keys: list[str], path: Path) -> Path:
    langs = [c.removeprefix("test/acc/").removesuffix(":mean") for c in summary.columns
             if c.startswith("test/acc/") and c.endswith(":mean")]  # fmt: skip
    bars = len(langs) * max(1, len(summary))
    fig, ax = plt.subplots(figsize=(min(12, max(6, 0.35 * bars + 2)), 4.5))
    width = 0.8 / max(1, len(summary))
    x = np.arange(len(langs))
    for i, (_, row) in enumerate(summary.iterrows()):
        means = [row[f"test/acc/{lang}:mean"] for lang in langs]
        stds = [0.0 if pd.isna(row[f"test/acc/{lang}:std"]) else row[f"test/acc/{lang}:std"]
                for lang in langs]  # fmt: skip
        ax.bar(x + i * width, means, width, yerr=stds, capsize=3, label=_label(row, keys))
    ax.set_xticks(x + width * (len(summary) - 1) / 2, langs)
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Accuracy per language")
    return save_figure(fig, path)


def transfer_heatmap(runs: pd.DataFrame, path: Path) -> Path | None:
    """Mean test accuracy per (source language, evaluated language); needs several sources."""
    if runs["source_lang"].nunique() < 2:
        return None
    langs = languages(runs)
    sources = sorted(runs["source_lang"].unique())
    grid = np.array(
        [[runs.loc[runs.source_lang == s, f"test/acc/{t}"].mean() for t in langs] for s in sources]
    )
    fig, ax = plt.subplots(figsize=(1 + 0.8 * len(langs), 1 + 0.6 * len(sources)))
    image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(langs)), langs)
    ax.set_yticks(range(len(sources)), sources)
    ax.set_xlabel("evaluated on")
    ax.set_ylabel("trained on")
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(image)
    return save_figure(fig, path)


def learning_curves(
    client: MlflowClient, runs: pd.DataFrame, keys: list[str], path: Path
) -> Path | None:
    fig, ax = plt.subplots(figsize=(7, 4))
    drew = False
    for _, row in runs.iterrows():
        metric = f"dev/acc/{row['source_lang']}"
        history = client.get_metric_history(row["run_id"], metric)
        if history:
            steps = [m.step for m in history]
            ax.plot(steps, [m.value for m in history], marker="o",
                    label=f"{_label(row, keys)} seed {row['seed']}")  # fmt: skip
            drew = True
    if not drew:
        plt.close(fig)
        return None
    ax.set_xlabel("training step")
    ax.set_ylabel("source dev accuracy")
    ax.legend(fontsize=7)
    ax.set_title("Learning curves (selection metric)")
    return save_figure(fig, path)
