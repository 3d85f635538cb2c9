"""Few-shot draws and temperature-based language sampling, shared by several strategies."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from xlt.errors import ConfigError


def k_per_class(labels: Sequence[int], k: int, seed: int, where: str = "") -> np.ndarray:
    """Exactly `k` indices per class present in `labels`, drawn with `seed`."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        pool = np.flatnonzero(labels == label)
        if len(pool) < k:
            raise ConfigError(
                f"strategy.k={k} but class {int(label)} has only {len(pool)} examples {where}; "
                "lower strategy.k or raise dataset.limit."
            )
        chosen.extend(rng.choice(pool, size=k, replace=False))
    return np.sort(np.asarray(chosen, dtype=np.int64))


def temperature_probabilities(sizes: Sequence[int], temperature: float) -> np.ndarray:
    """p_l proportional to n_l^(1/T): T=1 follows the data, large T tends to uniform."""
    weights = np.asarray(sizes, dtype=np.float64) ** (1.0 / temperature)
    return weights / weights.sum()


class TemperatureBatchSampler(Sampler[list[int]]):
    """Single-language batches; each batch's language drawn with temperature probabilities.

    `groups` are the index lists of each language inside one concatenated dataset. An epoch has
    as many batches as the data would fill; each language's pool is reshuffled as it is used up.
    With several training processes every one draws the same sequence and takes every
    `world_size`-th batch from `rank` on (the count rounded up so that all take as many steps).
    """

    def __init__(
        self,
        groups: Sequence[Sequence[int]],
        batch_size: int,
        temperature: float,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.groups = [np.asarray(g) for g in groups]
        self.batch_size = batch_size
        self.probabilities = temperature_probabilities([len(g) for g in groups], temperature)
        self.seed, self.epoch = seed, 0
        self.rank, self.world_size = rank, world_size

    def _drawn(self) -> int:
        batches = math.ceil(sum(len(g) for g in self.groups) / self.batch_size)
        return math.ceil(batches / self.world_size) * self.world_size

    def __len__(self) -> int:
        return self._drawn() // self.world_size

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch))
        self.epoch += 1
        pools = [rng.permutation(g) for g in self.groups]
        cursors = [0] * len(pools)
        for index in range(self._drawn()):
            lang = int(rng.choice(len(pools), p=self.probabilities))
            if cursors[lang] + self.batch_size > len(pools[lang]):
                pools[lang], cursors[lang] = rng.permutation(self.groups[lang]), 0
            start = cursors[lang]
            cursors[lang] += self.batch_size
            if index % self.world_size == self.rank:
                yield pools[lang][start : start + self.batch_size].tolist()

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
