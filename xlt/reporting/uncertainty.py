"""Uncertainty of a reported number: a bootstrap that resamples seeds and test rows together
(a 151-row test set alone has a standard error near 0.04), and the paired bootstrap of a
difference between two configurations over their common seeds and the same test rows.

Per-row scores come from each run's `test_predictions.csv`: `acc` per row, `f1`/`em` per
question, or entity `tp`/`fp`/`fn` per sentence (micro F1 is recomputed from their sums)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DRAWS = 2000
LEVEL = 0.95


@dataclass
class Rows:
    """One language's per-row score components for the runs of one cell: name -> [runs, rows],
    the rows aligned by id across runs."""

    components: dict[str, np.ndarray]

    @property
    def shape(self) -> tuple[int, int]:
        return next(iter(self.components.values())).shape


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


Combination = dict[str, float]  # language -> weight: one language, the target mean, the gap


def point(rows: dict[str, Rows], weights: Combination) -> float:
    return float(sum(w * metric_of(rows[lang].components).mean() for lang, w in weights.items()))


def draws(rows: dict[str, Rows], weights: Combination, runs: np.ndarray, seed: int) -> np.ndarray:
    """The weighted statistic per draw: runs drawn as `runs` says (shared by every language and
    by every configuration compared), rows drawn per language from a generator seeded alike."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(runs))
    for lang, weight in weights.items():
        n_rows = rows[lang].shape[1]
        for b, chosen in enumerate(runs):
            picks = rng.integers(0, n_rows, n_rows)
            parts = {k: v[chosen][:, picks] for k, v in rows[lang].components.items()}
            out[b] += weight * metric_of(parts).mean()
    return out


def run_draws(n_runs: int, seed: int = 0, n: int = DRAWS) -> np.ndarray:
    """Run indices per draw, resampled with replacement (one run: always that run)."""
    return np.random.default_rng(seed).integers(0, n_runs, (n, n_runs))


def interval(values: np.ndarray) -> tuple[float, float]:
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def cell(rows: dict[str, Rows], weights: Combination, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high) of one configuration: seeds and test rows resampled together."""
    n_runs = next(iter(rows.values())).shape[0]
    values = draws(rows, weights, run_draws(n_runs, seed), seed + 1)
    return (point(rows, weights), *interval(values))


def paired_difference(
    a: dict[str, Rows], b: dict[str, Rows], weights: Combination, seed: int = 0
) -> tuple[float, float, float]:
    """(A - B, low, high): both over the same drawn runs (their common seeds, in seed order)
    and the same drawn test rows (same generator, same row counts)."""
    runs = run_draws(next(iter(a.values())).shape[0], seed)
    diffs = draws(a, weights, runs, seed + 1) - draws(b, weights, runs, seed + 1)
    return (point(a, weights) - point(b, weights), *interval(diffs))
