"""Few-shot target tuning: train on the source language, then continue on k labelled examples
per class of each target language, drawn with the seed from the target TRAIN split only.
k=0 is exactly zero-shot."""

from __future__ import annotations

from collections.abc import Callable

import torch
from datasets import concatenate_datasets

from xlt.data.transfer_data import TransferData
from xlt.strategies.base import TransferStrategy
from xlt.strategies.sampling import k_per_class


class FewShot(TransferStrategy):
    name = "few_shot"

    def supported_tasks(self) -> tuple[str, ...]:
        from xlt.tasks import CLASSIFICATION

        return CLASSIFICATION  # k examples per class

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        k: int = 8,
        target_epochs: int = 5,
        target_lr: float | None = None,
        sample_seed: int = 0,
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.k, self.target_epochs, self.target_lr = k, target_epochs, target_lr
        self.sample_seed = sample_seed
        self.stage = "source"

    def check(self, data: TransferData, source: str, targets: list[str]) -> None:
        super().check(data, source, targets)
        if self.k < 0:
            from xlt.errors import ConfigError

            raise ConfigError(f"strategy.k={self.k}: must be 0 (zero-shot) or more")
        for lang in targets if self.k else []:
            if lang not in data.languages_of("train"):
                from xlt.errors import ConfigError

                raise ConfigError(
                    f"strategy few_shot needs labelled {lang!r} TRAIN data; the dataset has "
                    f"train data for {data.languages_of('train')} only."
                )
            labels = data.subset("train", lang)["label"]
            k_per_class(labels, self.k, self.sample_seed, where=f"in {lang!r} train")

    def few_shot_set(self, dm):
        """k per class from each target's TRAIN split (never dev or test)."""
        sets = []
        for lang in self.targets:
            train = dm.tokenized(dm.data.subset("train", lang, dm.limit), ["train", lang])
            picks = k_per_class(train["label"], self.k, self.sample_seed, f"in {lang!r} train")
            sets.append(train.select(picks))
        return concatenate_datasets(sets)

    def optimizer_groups(self, net):
        groups = super().optimizer_groups(net)
        if self.stage == "target" and self.target_lr is not None:
            for group in groups:
                group["lr"] = self.target_lr
        return groups

    def fit(self, trainer, module, dm, make_trainer):
        if module.resume_from:
            from xlt.errors import ConfigError

            raise ConfigError(f"resume: strategy {self.name!r} has two stages; rerun it instead")
        best = super().fit(trainer, module, dm, make_trainer)
        if self.k == 0:
            return best
        if best:  # continue from the source-selected checkpoint
            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(state, strict=False)
        self.stage = "target"
        loader = dm.loader(self.few_shot_set(dm), dm.batch_size, shuffle=True)
        # Fixed epochs and no selection: a few-shot setting has no target dev set to select on.
        make_trainer(max_epochs=self.target_epochs, limit_val_batches=0).fit(module, loader)
        return None  # test the final weights

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "strategy.k": str(self.k)}
