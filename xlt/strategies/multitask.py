"""Multi-task learning over languages: one shared encoder trained on the labelled TRAIN data of
the source and the targets at once. Each batch is one language, drawn with temperature
sampling (p_l proportional to n_l^(1/T)); optional language-specific heads are routed by the
batch's language. It uses labelled target TRAIN data, never dev or test: not zero-shot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import numpy as np
import torch
from datasets import concatenate_datasets

from xlt.config.bounds import Range
from xlt.data.training_data import TrainingData
from xlt.models.network import TransferNetwork
from xlt.strategies.base import Stage, TransferStrategy
from xlt.strategies.sampling import TemperatureBatchSampler
from xlt.tasks import CLASSIFICATION


class Multitask(TransferStrategy):
    """Every language's labelled TRAIN data at once, batches drawn per language by temperature."""

    name = "multitask"

    def supported_tasks(self) -> tuple[str, ...]:
        return CLASSIFICATION if self.language_heads else self.tasks  # heads route sentences

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        temperature: Annotated[float, Range(gt=0)] = 2.0,
        language_heads: bool = False,
        sample_seed: Annotated[int, Range(ge=0)] = 0,
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.temperature, self.language_heads = temperature, language_heads
        self.sample_seed = sample_seed

    def train_languages(self, source: str, targets: list[str]) -> list[str]:
        return [source, *targets]  # labelled TRAIN split of every language

    def prepare(self, net: TransferNetwork) -> None:
        if self.language_heads:
            net.add_language_heads(self.train_languages(self.source, self.targets), self.source)

    def train_dataloader(self, data: TrainingData, stage: Stage):
        sets = list(data.labelled.values())
        offsets = np.cumsum([0] + [len(s) for s in sets])
        groups = [range(offsets[i], offsets[i + 1]) for i in range(len(sets))]
        sampler = TemperatureBatchSampler(groups, data.batch_size, self.temperature,
                                          self.sample_seed, data.rank, data.world_size)  # fmt: skip
        return data.loader(concatenate_datasets(sets), False, batch_sampler=sampler)

    def describe(self) -> dict[str, str]:
        return {
            **super().describe(),
            "strategy.temperature": str(self.temperature),
            "strategy.language_heads": str(self.language_heads),
        }
