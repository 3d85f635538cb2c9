"""Mean +- std over seeds per configuration and language, never mixing selection protocols."""

from __future__ import annotations

import pandas as pd

from xlt.reporting.collect import CONFIG_TAGS


def varying_keys(runs: pd.DataFrame) -> list[str]:
    """Config tags whose value differs between runs; `selection` always separates groups."""
    keys = [k for k in CONFIG_TAGS if k in runs and runs[k].nunique() > 1]
    return keys if "selection" in keys else [*keys, "selection"]


def languages(runs: pd.DataFrame, metric: str = "acc", split: str = "test") -> list[str]:
    prefix = f"{split}/{metric}/"
    langs = [c.removeprefix(prefix) for c in runs.columns if c.startswith(prefix)]
    return [lang for lang in langs if lang != "avg_target"]


def primary_metric(runs: pd.DataFrame) -> str:
    """Accuracy for classification runs, F1 for tagging and QA (entity / token-overlap F1)."""
    span_or_tags = any(c.startswith(("test/em/", "test/precision/")) for c in runs.columns)
    return "f1" if span_or_tags else "acc"


def summarize_runs(runs: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """One row per configuration: n seeds, and mean/std per language, target average and gap."""
    metric = metric or primary_metric(runs)
    keys = varying_keys(runs)
    langs = languages(runs, metric)
    columns = [f"test/{metric}/{lang}" for lang in langs] + [f"test/{metric}/avg_target"]
    columns.append("test/transfer_gap")
    columns = [c for c in columns if c in runs]
    grouped = runs.groupby(keys, dropna=False, sort=True)
    out = grouped[columns].agg(["mean", "std"])
    out.columns = [f"{col}:{stat}" for col, stat in out.columns]
    out.insert(0, "n_seeds", grouped["seed"].nunique())
    out.insert(1, "seeds", grouped["seed"].apply(lambda s: ",".join(map(str, sorted(set(s))))))
    return out.reset_index()


def format_table(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`mean +- std` strings, one column per language: what people read and paste."""
    table = summary[[*keys, "n_seeds"]].copy()
    for column in summary.columns:
        if column.endswith(":mean"):
            name = column.removesuffix(":mean")
            label = name.removeprefix("test/").replace("/", " ")
            stds = summary[f"{name}:std"]  # NaN with one seed: no spread to report
            table[label] = [
                f"{m:.4f}" if pd.isna(s) else f"{m:.4f} ± {s:.4f}"
                for m, s in zip(summary[column], stds, strict=True)
            ]
    return table
