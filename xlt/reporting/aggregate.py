"""Report rows: one per (protocol, configuration), never averaged across protocols. Every cell
has a 95% t interval (seeds and test rows both as sources of error), its number of distinct
seeds, and a flag under 3 seeds. Within a protocol every configuration is compared with one
reference fixed before test scores are read (xlt/reporting/verdicts.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from xlt.reporting.configs import default_of
from xlt.reporting.uncertainty import (
    Combination,
    Rows,
    aligned_rows,
    cell,
    paired_difference,
    seed_differences,
)
from xlt.reporting.verdicts import ADVISED_SEEDS, MIN_SEEDS, best_by_dev, holm, seed_tests, verdict

TablesOf = Callable[[str], pd.DataFrame | None]  # run id -> its per-row test scores
DEFAULT = object()  # an override a run did not give
BOUNDS = (" low", " high")  # a cell's interval columns, beside its estimate


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
    return [k for k in keys if len({config.get(k, DEFAULT) for config in runs["config"]}) > 1]


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


def headline(weights: dict[str, Combination], metric: str) -> str:
    """The column comparisons are made on: the target average, else the first language."""
    return f"{metric} avg_target" if f"{metric} avg_target" in weights else next(iter(weights))


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


def summarize_runs(
    runs: pd.DataFrame, tables_of: TablesOf, metric: str | None = None,
    shared: dict[str, str] | None = None,
):  # fmt: skip
    """One row per (protocol, configuration): per column its estimate and, as numbers of their
    own, the interval's `low` and `high`. `shared`: the overrides every run gave alike (their
    defaults name what a run left unset, e.g. `reversal (default)` under strategy=adversarial)."""
    metric = metric or primary_metric(runs)
    keys = varying_keys(runs)
    out = []
    for (protocol, name), group in runs.groupby(["protocol", "configuration"], sort=True):
        group = group.sort_values("seed")
        rows = group_rows(group, metric, tables_of)
        record = {"protocol": protocol, "configuration": name,
                  **{k: group["config"].iloc[0].get(k) or default_of(k, shared) for k in keys},
                  "n_seeds": group["seed"].nunique(),
                  "seeds": ",".join(map(str, sorted(group["seed"].unique()))),
                  "interval": "seeds x test rows" if rows else "seeds only",
                  **cell_provenance(group)}  # fmt: skip
        for column, weights in combinations(group, metric).items():
            value = (cell(rows, weights) if rows
                     else seeds_only(metric_values(group, metric, weights)))  # fmt: skip
            record.update(zip([column, *(column + b for b in BOUNDS)], value, strict=True))
        out.append(record)
    return by_headline(pd.DataFrame(out), metric), keys


def by_headline(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Protocols in order, and within each the best headline estimate first."""
    columns = [c for c in summary.columns
               if c.startswith(f"{metric} ") and not c.endswith(BOUNDS)]  # fmt: skip
    if not columns:
        return summary
    key = headline(dict.fromkeys(columns), metric)
    ordered = summary.sort_values(["protocol", key], ascending=[True, False], kind="stable")
    return ordered.reset_index(drop=True)


def cell_provenance(group: pd.DataFrame) -> dict[str, str]:
    """The commits a cell's runs came from, flagged when their code's golden numbers differ."""
    if "git_commit" not in group:
        return {}
    commits = sorted({str(c)[:8] for c in group["git_commit"] if c})
    goldens = {g for g in group.get("golden_digest", pd.Series(dtype=str)) if g}
    flag = " (golden numbers differ!)" if len(goldens) > 1 else ""
    return {"commits": ",".join(commits) + flag}


def dev_column(runs: pd.DataFrame, metric: str) -> str | None:
    """The selected weights' source-dev score (`best/dev/...`), else the last dev score."""
    source = runs["source_lang"].iloc[0]
    for column in (f"best/dev/{metric}/{source}", f"dev/{metric}/{source}"):
        if column in runs and runs[column].notna().any():
            return column
    return None


def choose_reference(runs: pd.DataFrame, metric: str, baseline: str | None) -> tuple[str, str]:
    """(reference configuration, how it was chosen): never by a test score."""
    names = sorted(runs["configuration"].unique())
    if baseline is not None:
        return baseline, "--baseline"
    column = dev_column(runs, metric)
    if column is not None:
        means = {name: float(runs.loc[runs.configuration == name, column].mean())
                 for name in names}  # fmt: skip
        if (best := best_by_dev(means)) is not None:
            return best, f"best mean {column}"
    first = "default" if "default" in names else names[0]
    return first, "no source-dev scores: the default configuration (use --baseline)"


def compare_within_protocols(
    runs: pd.DataFrame, tables_of: TablesOf, metric: str | None = None, baseline: str | None = None
) -> pd.DataFrame:
    """Each configuration against its protocol's reference over their common seeds: the paired
    difference, its 95% t interval over seeds, p, Holm's p over every comparison in the report,
    the verdict, and the interval a new test set of the same size would add rows' noise to."""
    metric = metric or primary_metric(runs)
    out = []
    for protocol, runs_of in runs.groupby("protocol", sort=True):
        names = set(runs_of["configuration"])
        reference, how = choose_reference(runs_of, metric, baseline)
        if len(names) < 2 or reference not in names:
            continue
        weights = combinations(runs_of, metric)
        column = headline(weights, metric)
        for name in sorted(names - {reference}):
            out.append({"protocol": protocol, "configuration": name, "against": reference,
                        "reference_by": how, "metric": column,
                        **paired(runs_of, name, reference, metric, weights[column],
                                 tables_of)})  # fmt: skip
    return with_verdicts(pd.DataFrame(out))


def with_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """Holm over the whole report's comparisons (those with enough seeds to be tested)."""
    if table.empty:
        return table
    tested = table["common_seeds"] >= MIN_SEEDS
    table["p_holm"] = holm(np.where(tested, table["p"], np.nan))
    table["different"] = [verdict(n, p) for n, p in zip(table["common_seeds"], table["p_holm"],
                                                        strict=True)]  # fmt: skip
    return table


def paired(runs, name: str, reference: str, metric: str, weights: Combination, tables_of):
    a, b = runs[runs.configuration == name], runs[runs.configuration == reference]
    seeds = sorted(set(a["seed"]) & set(b["seed"]))
    a = a[a.seed.isin(seeds)].sort_values("seed")
    b = b[b.seed.isin(seeds)].sort_values("seed")
    both = group_rows(pd.concat([a, b]), metric, tables_of) if seeds else None
    new_set = (float("nan"), float("nan"))
    if both is None:
        differences = metric_values(a, metric, weights) - metric_values(b, metric, weights)
    else:
        n = len(seeds)
        split = [{k: Rows({c: v[:n] if i == 0 else v[n:] for c, v in r.components.items()})
                  for k, r in both.items()} for i in (0, 1)]  # fmt: skip
        differences = seed_differences(split[0], split[1], weights)
        new_set = paired_difference(split[0], split[1], weights)[1:]
    mean, low, high, p = seed_tests(differences) if seeds else (np.nan,) * 4
    # another test set only adds uncertainty: never narrower than the seeds' interval (with
    # few seeds Satterthwaite's degrees of freedom could make it so)
    new_set = (float(np.fmin(new_set[0], low)), float(np.fmax(new_set[1], high)))
    return {"difference": float(mean), "low": float(low), "high": float(high), "p": float(p),
            "common_seeds": len(seeds), "new_test_set_low": new_set[0],
            "new_test_set_high": new_set[1]}  # fmt: skip


def format_cell(estimate: float, low: float, high: float) -> str:
    if np.isnan(low):
        return f"{estimate:.4f}"
    return f"{estimate:.4f} [{low:.4f}, {high:.4f}]"


def format_table(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Strings people read and paste: estimate [95% interval], seeds, and a flag."""
    table = summary[["protocol", *keys, "n_seeds", "seeds"]].copy()
    table["n_seeds"] = [f"{n}" if n >= MIN_SEEDS else f"{n} (<{MIN_SEEDS}!)"
                        for n in summary["n_seeds"]]  # fmt: skip
    for column in value_columns(summary, keys):
        parts = [summary[column + suffix] for suffix in ("", *BOUNDS)]
        table[column] = [format_cell(*values) for values in zip(*parts, strict=True)]
    table["interval"] = summary["interval"]
    if "commits" in summary:
        table["commits"] = summary["commits"]
    return table


def value_columns(summary: pd.DataFrame, keys: list[str]) -> list[str]:
    fixed = {"protocol", "configuration", *keys, "n_seeds", "seeds", "interval", "commits"}
    return [c for c in summary.columns if c not in fixed and not c.endswith(BOUNDS)]


def comparison_notes(compared: pd.DataFrame) -> list[str]:
    """How to read the comparison table, said under it."""
    if compared.empty:
        return []
    refs = compared.drop_duplicates("protocol")
    lines = [f"- {row.protocol}: reference `{row.against}` ({row.reference_by})."
             for row in refs.itertuples()]  # fmt: skip
    lines.append(
        f"- `different`: a paired t-test over common seeds on the same test rows, Holm-corrected "
        f"over all {len(compared)} comparisons at 5%; below {MIN_SEEDS} common seeds no verdict, "
        f"below {ADVISED_SEEDS} the verdict says its seeds. `low`/`high`: the difference's 95% "
        "t interval over seeds; `new_test_set_low/high`: wider, with the test rows as a source "
        "of error too (how far another test set of this size could move it)."
    )
    return lines
