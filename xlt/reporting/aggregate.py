"""Report rows: one per (protocol, configuration), never averaged across protocols. Every cell
has a 95% interval (seeds and test rows resampled together), its number of distinct seeds, and
a flag under 3 seeds; configurations are compared by paired intervals of their difference."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from xlt.reporting.uncertainty import Combination, Rows, aligned_rows, cell, paired_difference

MIN_SEEDS = 3
TablesOf = Callable[[str], pd.DataFrame | None]  # run id -> its per-row test scores


def primary_metric(runs: pd.DataFrame) -> str:
    """Accuracy for classification runs, F1 for tagging and QA (entity / token-overlap F1)."""
    span_or_tags = any(c.startswith(("test/em/", "test/precision/")) for c in runs.columns)
    return "f1" if span_or_tags else "acc"


def languages(runs: pd.DataFrame, metric: str = "acc", split: str = "test") -> list[str]:
    prefix = f"{split}/{metric}/"
    langs = [c.removeprefix(prefix) for c in runs.columns if c.startswith(prefix)]
    return [lang for lang in langs if lang != "avg_target"]


def varying_keys(runs: pd.DataFrame) -> list[str]:
    """Override keys whose value differs among the runs (absent means the default)."""
    keys = sorted({k for config in runs["config"] for k in config})
    return [k for k in keys if len({config.get(k, "(default)") for config in runs["config"]}) > 1]


def combinations(runs: pd.DataFrame, metric: str) -> dict[str, Combination]:
    """Column name -> languages and weights: each language, the target mean and the gap."""
    source = runs["source_lang"].iloc[0]
    langs = languages(runs, metric)
    targets = [lang for lang in langs if lang != source]
    out = {f"{metric} {lang}": {lang: 1.0} for lang in langs}
    if targets:
        out[f"{metric} avg_target"] = {t: 1 / len(targets) for t in targets}
        if source in langs:
            out["transfer gap"] = {source: 1.0, **{t: -1 / len(targets) for t in targets}}
    return out


def seeds_only(values: np.ndarray) -> tuple[float, float, float]:
    """Without per-row scores: a t interval over seeds (none from a single seed)."""
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def group_rows(group: pd.DataFrame, metric: str, tables_of: TablesOf) -> dict[str, Rows] | None:
    tables = [tables_of(run_id) for run_id in group["run_id"]]
    if any(t is None for t in tables):
        return None
    rows = {lang: aligned_rows(tables, lang, metric) for lang in languages(group, metric)}
    return None if any(r is None for r in rows.values()) else rows


def metric_values(group: pd.DataFrame, metric: str, weights: Combination) -> np.ndarray:
    columns = {lang: group[f"test/{metric}/{lang}"].to_numpy(float) for lang in weights}
    return sum(w * columns[lang] for lang, w in weights.items())


def summarize_runs(runs: pd.DataFrame, tables_of: TablesOf, metric: str | None = None):
    """One row per (protocol, configuration) with (estimate, low, high) per column."""
    metric = metric or primary_metric(runs)
    keys = varying_keys(runs)
    out = []
    for (protocol, name), group in runs.groupby(["protocol", "configuration"], sort=True):
        group = group.sort_values("seed")
        rows = group_rows(group, metric, tables_of)
        record = {"protocol": protocol, "configuration": name,
                  **{k: group["config"].iloc[0].get(k, "(default)") for k in keys},
                  "n_seeds": group["seed"].nunique(),
                  "seeds": ",".join(map(str, sorted(group["seed"].unique()))),
                  "interval": "seeds x test rows" if rows else "seeds only"}  # fmt: skip
        for column, weights in combinations(group, metric).items():
            record[column] = (cell(rows, weights) if rows
                              else seeds_only(metric_values(group, metric, weights)))  # fmt: skip
        out.append(record)
    return pd.DataFrame(out), keys


def compare_within_protocols(runs: pd.DataFrame, tables_of: TablesOf, metric: str | None = None):
    """Each configuration against the best one of its protocol (by the target average), over
    their common seeds: the paired 95% interval of the difference and whether it excludes 0."""
    metric = metric or primary_metric(runs)
    out = []
    for protocol, runs_of in runs.groupby("protocol", sort=True):
        weights = combinations(runs_of, metric)
        column = (
            f"{metric} avg_target" if f"{metric} avg_target" in weights else next(iter(weights))
        )
        means = pd.Series({name: metric_values(g, metric, weights[column]).mean()
                           for name, g in runs_of.groupby("configuration")})  # fmt: skip
        best = means.idxmax()
        for name in means.index.drop(best):
            out.append({"protocol": protocol, "configuration": name, "against": best,
                        "metric": column, **paired(runs_of, name, best, metric,
                                                   weights[column], tables_of)})  # fmt: skip
    return pd.DataFrame(out)


def paired(runs, name: str, best: str, metric: str, weights: Combination, tables_of) -> dict:
    a, b = runs[runs.configuration == name], runs[runs.configuration == best]
    seeds = sorted(set(a["seed"]) & set(b["seed"]))
    if not seeds:
        return {"difference": float("nan"), "low": float("nan"), "high": float("nan"),
                "common_seeds": 0, "different": "no common seeds"}  # fmt: skip
    a = a[a.seed.isin(seeds)].sort_values("seed")
    b = b[b.seed.isin(seeds)].sort_values("seed")
    both = group_rows(pd.concat([a, b]), metric, tables_of)
    if both is None:
        diff = metric_values(a, metric, weights) - metric_values(b, metric, weights)
        estimate, low, high = seeds_only(diff)
    else:
        n = len(seeds)
        split = [{k: Rows({c: v[:n] if i == 0 else v[n:] for c, v in r.components.items()})
                  for k, r in both.items()} for i in (0, 1)]  # fmt: skip
        estimate, low, high = paired_difference(split[0], split[1], weights)
    if np.isnan(low):
        different = "n/a (one seed, no per-row scores)"
    else:
        different = "yes" if low > 0 or high < 0 else "no"
    return {"difference": estimate, "low": low, "high": high, "common_seeds": len(seeds),
            "different": different}  # fmt: skip


def format_cell(value: tuple[float, float, float]) -> str:
    estimate, low, high = value
    if np.isnan(low):
        return f"{estimate:.4f}"
    return f"{estimate:.4f} [{low:.4f}, {high:.4f}]"


def format_table(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Strings people read and paste: estimate [95% interval], seeds, and a flag."""
    table = summary[["protocol", *keys, "n_seeds"]].copy()
    table["n_seeds"] = [f"{n}" if n >= MIN_SEEDS else f"{n} (<{MIN_SEEDS}!)"
                        for n in summary["n_seeds"]]  # fmt: skip
    fixed = {"protocol", "configuration", *keys, "n_seeds", "seeds", "interval"}
    for column in summary.columns:
        if column not in fixed:
            table[column] = summary[column].map(format_cell)
    table["interval"] = summary["interval"]
    return table
