"""Verdicts: does a configuration score differently from the reference of its protocol?

The reference is fixed before any test score is looked at: the user's `--baseline`, or the
configuration with the best mean source-dev score. Each other configuration is compared with it
over their common seeds, on the same test rows: a paired t-test of the per-seed differences
(`scipy.stats.ttest_1samp`), whose spread holds both the training noise and the row noise that
differs between seeds. Every comparison of a report is one family, corrected with Holm's method.
Below 3 common seeds there is no verdict; below 5 the verdict says how few seeds it rests on.

What the error rate is (tests/test_verdicts.py simulates it, 500 reports a setting): under no
real difference at most 5% of the comparisons are called "different" (plus Monte Carlo error).
With a `--baseline` named in advance Holm also holds the chance of any false "yes" in a report
at 5%; with the default reference, picked on a dev set that shares the runs' seed noise, that
chance measured up to about 10% with 10 configurations."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

ALPHA = 0.05  # the error rate of a report's "different: yes" calls
MIN_SEEDS = 3  # fewer common seeds: no verdict
ADVISED_SEEDS = 5  # fewer: the verdict says so (a t-test on 3 seeds has little power)


def seed_tests(differences: np.ndarray, level: float = 0.95):
    """Paired t-tests of per-seed differences [..., seeds]: (mean, low, high, p) arrays over the
    leading axes. No spread at all: p = 0 for a constant non-zero difference, 1 for none."""
    d = np.asarray(differences, float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_1samp(d, 0.0, axis=-1)
        low, high = result.confidence_interval(level)
    mean = d.mean(-1)
    p = np.where(np.isnan(result.pvalue) & (mean == 0), 1.0, result.pvalue)
    return mean, np.asarray(low), np.asarray(high), np.asarray(p)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values of families [..., comparisons]; nan (untested) stays nan and is
    not counted in its family. Written out because statsmodels' `multipletests` runs a full
    garbage collection per call (17 ms here), which the calibration test's 18,000 reports cannot
    afford; tests/test_verdicts.py checks it against `multipletests`."""
    p = np.asarray(p_values, float)
    order = np.argsort(p, axis=-1)  # nan sorts last
    ordered = np.take_along_axis(p, order, -1)
    family = np.isfinite(p).sum(-1, keepdims=True)
    scaled = np.minimum((family - np.arange(p.shape[-1])) * ordered, 1.0)
    adjusted = np.maximum.accumulate(np.where(np.isfinite(scaled), scaled, -np.inf), axis=-1)
    adjusted = np.where(np.isfinite(ordered), adjusted, np.nan)
    out = np.empty_like(p)
    np.put_along_axis(out, order, adjusted, -1)
    return out


def verdict(common_seeds: int, p_adjusted: float) -> str:
    """`yes` / `no`, qualified below ADVISED_SEEDS; never `yes` below MIN_SEEDS."""
    if common_seeds < MIN_SEEDS:
        return f"too few seeds ({common_seeds} < {MIN_SEEDS})"
    called = "yes" if p_adjusted < ALPHA else "no"
    if common_seeds < ADVISED_SEEDS:
        return f"{called} ({common_seeds} seeds: low power)"
    return called


def best_by_dev(dev_means: dict[str, float]) -> str | None:
    """The configuration with the best mean source-dev score (None without dev scores)."""
    scored = {name: m for name, m in dev_means.items() if np.isfinite(m)}
    return max(scored, key=scored.__getitem__) if scored else None
