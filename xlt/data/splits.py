"""Seeded, stratified splitting by item, so translations of one sentence share a split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stratified_split(
    labels: Sequence[int], fractions: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Split item indices into len(fractions) parts, per label in proportion, deterministically.

    Each label's items are shuffled with `seed` and cut by cumulative rounding, so every part
    gets its share of every class and the result depends only on (labels, fractions, seed).
    """
    if not fractions or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    bounds = np.cumsum(fractions)
    for label in np.unique(labels):
        items = np.flatnonzero(labels == label)
        rng.shuffle(items)
        cuts = np.rint(bounds * len(items)).astype(int)
        start = 0
        for part, stop in zip(parts, cuts, strict=True):
            part.extend(items[start:stop])
            start = stop
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]
