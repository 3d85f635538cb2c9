"""Uncertainty of a reported number, from a table of per-row scores [seeds, test rows].

A cell's number is a mean over seeds and over test rows, so it moves with both: another seed
(training noise) and another test set of the same size (a 151-row test set alone has a standard
error near 0.04). Both are estimated as the variance components of a crossed seeds x rows design
(two-way random effects, ANOVA mean squares), and the interval is a t interval with
Satterthwaite's degrees of freedom: with 3 seeds it is as wide as 3 seeds deserve, which a
percentile bootstrap over 3 seeds is not.

Per-row scores come from each run's `test_predictions.csv`: `acc` per row, `f1`/`em` per
question, or entity `tp`/`fp`/`fn` per sentence. Micro F1 is not a mean of rows; its rows enter
through their linearisation (the delta method), whose row mean is exactly the run's F1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

LEVEL = 0.95


@dataclass
class Rows:
    """One language's per-row score components for the runs of one cell: name -> [runs, rows],
    the rows aligned by id across runs."""

    components: dict[str, np.ndarray]

    @property
    def shape(self) -> tuple[int, int]:
        return next(iter(self.components.values())).shape

    def scores(self) -> np.ndarray:
        """[runs, rows] scores whose row mean is each run's metric (see `row_scores`)."""
        return row_scores(self.components)


def aligned_rows(tables: list[pd.DataFrame], lang: str, metric: str) -> Rows | None:
    """Stack the runs' rows of `lang` on their common ids (None when a run has no rows)."""
    parts = [t[t["lang"] == lang].drop_duplicates("id").set_index("id") for t in tables]
    if not parts or any(p.empty for p in parts):
        return None
    common = sorted(set.intersection(*(set(p.index) for p in parts)))
    names = ["tp", "fp", "fn"] if metric == "f1" and "tp" in parts[0] else [metric]
    if not common or any(n not in p for p in parts for n in names):
        return None
    return Rows({n: np.stack([p.loc[common, n].to_numpy(float) for p in parts]) for n in names})


def metric_of(components: dict[str, np.ndarray]) -> np.ndarray:
    """The metric over the last axis: a mean, or micro F1 from entity counts."""
    if "tp" in components:
        tp, fp, fn = (components[k].sum(-1) for k in ("tp", "fp", "fn"))
        denominator = 2 * tp + fp + fn
        return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    (values,) = components.values()
    return values.mean(-1)


def row_scores(components: dict[str, np.ndarray]) -> np.ndarray:
    """Per-row scores whose mean over rows is the run's metric. For micro F1 = 2TP / (2TP + FP +
    FN), row i contributes F1 + (2 tp_i - F1 (2 tp_i + fp_i + fn_i)) / mean(2 tp + fp + fn): its
    first-order effect on F1, so row-level variances are those of F1 itself."""
    if "tp" not in components:
        (values,) = components.values()
        return values
    tp, fp, fn = (components[k] for k in ("tp", "fp", "fn"))
    f1 = metric_of(components)[..., None]
    size = (2 * tp + fp + fn).mean(-1, keepdims=True)
    influence = np.divide(2 * tp - f1 * (2 * tp + fp + fn), size,
                          out=np.zeros_like(tp), where=size > 0)  # fmt: skip
    return f1 + influence


Combination = dict[str, float]  # language -> weight: one language, the target mean, the gap


@dataclass(frozen=True)
class Components:
    """Variance of a mean over n seeds and N rows: seed part (seed-to-seed spread of the run
    means, which holds the row noise that differs between seeds) and row part (how much
    another test set would move it), each with its degrees of freedom."""

    seed_var: float
    seed_df: int
    row_var: float
    row_df: int

    @property
    def total(self) -> float:
        return self.seed_var + self.row_var

    @property
    def df(self) -> float:
        """Satterthwaite's approximation for the sum of the two parts."""
        parts = [(v, d) for v, d in ((self.seed_var, self.seed_df), (self.row_var, self.row_df))
                 if d > 0 and v > 0]  # fmt: skip
        if not parts:
            return float(self.seed_df)
        return self.total**2 / sum(v**2 / d for v, d in parts)


def row_part(scores: np.ndarray) -> tuple[float, int]:
    """The rows' share of the variance of the grand mean of [n, N] scores: (MS_rows - MS_error)
    / (n N), floored at 0; with one seed the error cannot be told apart and stays in."""
    n, size = scores.shape
    if size < 2:
        return 0.0, 0
    row_means = scores.mean(0)
    ms_rows = n * row_means.var(ddof=1)
    ms_error = 0.0
    if n > 1:
        residual = scores - scores.mean(1, keepdims=True) - row_means + scores.mean()
        ms_error = float((residual**2).sum() / ((n - 1) * (size - 1)))
    return max(ms_rows - ms_error, 0.0) / (n * size), size - 1


def variance_components(scores: dict[str, np.ndarray], weights: Combination) -> Components:
    """Components of Σ_lang w * mean(scores[lang]): seeds are shared by every language (one run
    tests them all), test rows are each language's own."""
    per_seed = sum(w * scores[lang].mean(1) for lang, w in weights.items())
    n = len(per_seed)
    seed_var = float(per_seed.var(ddof=1) / n) if n > 1 else 0.0
    rows = [(w**2, *row_part(scores[lang])) for lang, w in weights.items()]
    row_var = sum(w2 * v for w2, v, _ in rows)
    row_df = min((d for _, v, d in rows if v > 0), default=0)
    return Components(seed_var, n - 1, row_var, row_df)


def t_interval(estimate: float, variance: float, df: float) -> tuple[float, float, float]:
    if not np.isfinite(df) or df <= 0:
        return estimate, float("nan"), float("nan")
    if variance <= 0:  # no spread at all between seeds or rows
        return estimate, estimate, estimate
    half = float(stats.t.ppf((1 + LEVEL) / 2, df) * np.sqrt(variance))
    return estimate, estimate - half, estimate + half


def point(rows: dict[str, Rows], weights: Combination) -> float:
    return float(sum(w * metric_of(rows[lang].components).mean() for lang, w in weights.items()))


def cell(rows: dict[str, Rows], weights: Combination) -> tuple[float, float, float]:
    """(estimate, low, high) of one configuration: seeds and test rows both as sources of
    error (a t interval; one seed gives the test rows' interval alone)."""
    parts = variance_components({lang: rows[lang].scores() for lang in weights}, weights)
    return t_interval(point(rows, weights), parts.total, parts.df)


def paired_difference(
    a: dict[str, Rows], b: dict[str, Rows], weights: Combination
) -> tuple[float, float, float]:
    """(A - B, low, high) over the same seeds (in seed order) and the same test rows, seeds and
    rows both as sources of error: how far another test set could move the difference."""
    diff = {lang: a[lang].scores() - b[lang].scores() for lang in weights}
    parts = variance_components(diff, weights)
    return t_interval(point(a, weights) - point(b, weights), parts.total, parts.df)


def seed_differences(a: dict[str, Rows], b: dict[str, Rows], weights: Combination) -> np.ndarray:
    """A - B per common seed, each on the same test rows."""
    return sum(w * (metric_of(a[lang].components) - metric_of(b[lang].components))
               for lang, w in weights.items())  # fmt: skip
