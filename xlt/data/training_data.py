"""What a strategy sees of the data: the training sets and a way to batch them. It holds no dev
or test rows and no evaluation loader, so nothing on the training side can change what an
evaluation batch contains; every read it makes is recorded in the run's data-access record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasets import Dataset
from torch.utils.data import DataLoader, Sampler

from xlt.data.access import DataAccess, Purpose

# (batch size, shuffle, batch sampler or None) -> a DataLoader with the training collator.
LoaderFactory = Callable[[Dataset, bool, Sampler | None], DataLoader]


@dataclass
class TrainingData:
    labelled: dict[str, Dataset]  # tokenised labelled TRAIN rows per language
    unlabelled: dict[str, Dataset]  # tokenised TRAIN text without labels, per language
    batch_size: int
    source: str
    targets: list[str]
    access: DataAccess
    _make_loader: LoaderFactory
    _read_train: Callable[[str, Purpose], Dataset]  # tokenised labelled TRAIN rows of a language
    rank: int = 0  # this process, of `world_size` training processes: a strategy's own batch
    world_size: int = 1  # sampler gives each process its share of the batches

    def loader(
        self, rows: Dataset, shuffle: bool = True, batch_sampler: Sampler | None = None
    ) -> DataLoader:
        """Training batches of `rows` (length-grouped when the dataset config asks for it)."""
        return self._make_loader(rows, shuffle, batch_sampler)

    def draw(self, lang: str, pick: Callable[[np.ndarray], np.ndarray]) -> Dataset:
        """A labelled sample of `lang`'s TRAIN split: `pick` gets every label and returns the
        indices to keep (few-shot's k per class). The record says the labels were read for
        sampling and how many rows reached training."""
        pool = self._read_train(lang, Purpose.sampling)
        chosen = pool.select(pick(np.asarray(pool["label"])))
        self.access.record("train", lang, labelled=True, purpose=Purpose.training, rows=len(chosen))
        return chosen

    def describe(self) -> dict[str, Any]:
        return {"labelled": sorted(self.labelled), "unlabelled": sorted(self.unlabelled)}
