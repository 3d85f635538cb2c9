"""A transfer strategy decides what trains on what: which languages' labelled data reaches
training, which parameters move, and with which optimiser. New strategies subclass this."""

from __future__ import annotations

from collections.abc import Callable

import torch

from xlt.data.transfer_data import TransferData
from xlt.models.classifier import SequenceClassifier


class TransferStrategy:
    name = "base"

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
    ) -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler

    def train_languages(self, source: str, targets: list[str]) -> list[str]:
        """Languages whose labelled TRAIN split is used. Zero-shot: the source alone."""
        return [source]

    def check(self, data: TransferData, source: str, targets: list[str]) -> None:
        """Raise ConfigError when the strategy cannot apply to this data (before model loading)."""

    def prepare(self, net: SequenceClassifier) -> None:
        """Freeze or wrap parts of the network before training."""

    def describe(self) -> dict[str, str]:
        """Parameters worth a tag, so runs of one strategy can be told apart in MLflow."""
        lr = getattr(self.optimizer, "keywords", {}).get("lr")
        return {"strategy": self.name, **({"strategy.lr": str(lr)} if lr is not None else {})}
