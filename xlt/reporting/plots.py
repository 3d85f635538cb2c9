"""Figures for a sweep: per-language accuracy by configuration, source-to-target transfer
matrix when sources vary, and learning curves on the selection metric."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from xlt.reporting.aggregate import languages  # noqa: E402


def save_figure(fig, path: Path) -> Path:
    with warnings.catch_warnings():  # a wide outside legend leaves no room inside the figure:
        warnings.filterwarnings("ignore", message="Tight layout not applied")  # bbox_inches
        fig.tight_layout()  # below makes room for it instead
    fig.savefig(path, dpi=120, bbox_inches="tight")  # legends sit beside the axes, kept in
    plt.close(fig)
    return path


def outside_legend(ax) -> None:
    """The legend to the right of the axes, where it never covers a bar or a curve."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def colours(names: list[str]) -> dict[str, tuple]:
    """One colour per configuration, the same in every plot of a report."""
    palette = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    return {name: palette(i % palette.N) for i, name in enumerate(sorted(names))}


def language_bars(summary: pd.DataFrame, metric: str, colour: dict, path: Path) -> Path:
    """The primary metric per language and configuration, with its 95% interval."""
    columns = [c for c in summary.columns
               if c.startswith(f"{metric} ") and not c.endswith((" low", " high"))]  # fmt: skip
    bars = len(columns) * max(1, len(summary))
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.35 * bars + 2)), 4.5))
    width = 0.8 / max(1, len(summary))
    x = np.arange(len(columns))
    for i, (_, row) in enumerate(summary.iterrows()):
        means = np.array([row[c] for c in columns], float)
        lows = np.array([row[f"{c} low"] for c in columns], float)
        highs = np.array([row[f"{c} high"] for c in columns], float)
        errors = np.nan_to_num(np.stack([means - lows, highs - means]))
        name = f"{row['configuration']} ({row['protocol']})"
        ax.bar(x + i * width, means, width, yerr=errors, capsize=3, label=name,
               color=colour[row["configuration"]])  # fmt: skip
    ax.set_xticks(
        x + width * (len(summary) - 1) / 2, [c.removeprefix(f"{metric} ") for c in columns]
    )
    ax.set_ylabel(f"test {metric} (95% interval)")
    ax.set_ylim(0, 1)
    outside_legend(ax)
    ax.set_title(f"{metric} per language")
    return save_figure(fig, path)


def transfer_heatmap(runs: pd.DataFrame, metric: str, path: Path) -> Path | None:
    """Mean test metric per (source language, evaluated language); needs several sources."""
    if runs["source_lang"].nunique() < 2:
        return None
    langs = languages(runs, metric)
    sources = sorted(runs["source_lang"].unique())
    grid = np.array([[runs.loc[runs.source_lang == s, f"test/{metric}/{t}"].mean()
                      for t in langs] for s in sources])  # fmt: skip
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


def language_heatmap(summary: pd.DataFrame, metric: str, path: Path) -> Path | None:
    """Configurations x languages (and the target average): the primary metric's estimate in
    each cell; the intervals are in report.md beside it. Needs two or more targets."""
    columns = [c for c in summary.columns
               if c.startswith(f"{metric} ") and not c.endswith((" low", " high"))]  # fmt: skip
    if len(columns) < 4:  # the source, two targets and their average
        return None
    grid = summary[columns].to_numpy(float)
    names = [f"{c} ({p})" for c, p in zip(summary["configuration"], summary["protocol"],
                                          strict=True)]  # fmt: skip
    fig, ax = plt.subplots(figsize=(2 + 0.8 * len(columns), 1.5 + 0.45 * len(names)))
    image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(columns)), [c.removeprefix(f"{metric} ") for c in columns])
    ax.set_yticks(range(len(names)), names, fontsize=7)
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="w", fontsize=7)
    ax.set_title(f"test {metric}: configuration x language")
    fig.colorbar(image)
    return save_figure(fig, path)


def learning_curves(
    client: MlflowClient, runs: pd.DataFrame, metric: str, colour: dict, path: Path
) -> Path | None:
    fig, ax = plt.subplots(figsize=(7, 4))
    drew = False
    for _, row in runs.iterrows():
        history = client.get_metric_history(row["run_id"], f"dev/{metric}/{row['source_lang']}")
        if history:
            steps = [m.step for m in history]
            ax.plot(steps, [m.value for m in history], marker="o",
                    color=colour[row["configuration"]],
                    label=f"{row['configuration']} seed {row['seed']}")  # fmt: skip
            drew = True
    if not drew:
        plt.close(fig)
        return None
    ax.set_xlabel("training step")
    ax.set_ylabel(f"source dev {metric}")
    outside_legend(ax)
    ax.set_title("Learning curves (selection metric)")
    return save_figure(fig, path)
