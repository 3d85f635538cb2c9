"""Few-shot target tuning: train on the source language, then continue on k labelled examples
per class of each target language, drawn with the seed from the target TRAIN split only.
k=0 is exactly zero-shot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import torch
from datasets import concatenate_datasets

from xlt.config.bounds import Range
from xlt.data.dataset_splits import DatasetSplits
from xlt.data.training_data import TrainingData
from xlt.errors import ConfigError
from xlt.strategies.base import Stage, TransferStrategy
from xlt.strategies.sampling import k_per_class
from xlt.tasks import CLASSIFICATION

SOURCE = Stage("source")
# Fixed epochs and no selection: a few-shot setting has no target dev set to select on.
TARGET = "target"


class FewShot(TransferStrategy):
    """Source fine-tuning, then k labelled examples per class of each target's TRAIN split."""

    name = "few_shot"
    tasks = CLASSIFICATION  # k examples per class

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        k: Annotated[int, Range(ge=0)] = 8,
        target_epochs: Annotated[int, Range(ge=1)] = 5,
        target_lr: Annotated[float | None, Range(gt=0)] = None,
        sample_seed: Annotated[int, Range(ge=0)] = 0,
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.k, self.target_epochs, self.target_lr = k, target_epochs, target_lr
        self.sample_seed = sample_seed

    def check(self, data: DatasetSplits, source: str, targets: list[str]) -> None:
        super().check(data, source, targets)
        if self.k < 0:
            raise ConfigError(f"strategy.k={self.k}: must be 0 (zero-shot) or more")
        for lang in targets if self.k else []:
            if lang not in data.languages_of("train"):
                raise ConfigError(
                    f"strategy few_shot needs labelled {lang!r} TRAIN data; the dataset has "
                    f"train data for {data.languages_of('train')} only."
                )
            labels = data.subset("train", lang, purpose="sampling")["label"]
            k_per_class(labels, self.k, self.sample_seed, where=f"in {lang!r} train")

    def few_shot_set(self, data: TrainingData):
        """k per class from each target's TRAIN split (never dev or test)."""

        def pick(lang: str):
            where = f"in {lang!r} train"
            return lambda labels: k_per_class(labels, self.k, self.sample_seed, where)

        return concatenate_datasets([data.draw(lang, pick(lang)) for lang in data.targets])

    def stages(self) -> list[Stage]:
        if self.k == 0:
            return [SOURCE]
        return [SOURCE, Stage(TARGET, max_epochs=self.target_epochs, select_on_dev=False)]

    def train_dataloader(self, data: TrainingData, stage: Stage):
        if stage.name == TARGET:
            return data.loader(self.few_shot_set(data))
        return super().train_dataloader(data, stage)

    def optimizer_groups(self, net, stage: Stage):
        groups = super().optimizer_groups(net, stage)
        if stage.name == TARGET and self.target_lr is not None:
            for group in groups:
                group["lr"] = self.target_lr
        return groups

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "strategy.k": str(self.k)}
