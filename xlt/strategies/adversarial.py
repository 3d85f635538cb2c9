"""Language-adversarial adaptation (Ganin et al. 2016; Chen et al. 2018 for cross-lingual text):
a discriminator learns to tell the language of a pooled sentence vector; a gradient reversal
layer between encoder and discriminator pushes the encoder to language-invariant features.
It trains on labelled source data plus UNLABELLED target TRAIN text (labels dropped)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

import torch
import torch.nn.functional as F
from datasets import concatenate_datasets
from torch import nn

from xlt.config.bounds import Range
from xlt.data.training_data import TrainingData
from xlt.models.gradient_reversal import reverse_gradient
from xlt.models.network import TransferNetwork
from xlt.strategies.base import Stage, StepContext, TransferStrategy
from xlt.tasks import CLASSIFICATION


class Adversarial(TransferStrategy):
    """Labelled source data plus unlabelled target TRAIN text; a language discriminator behind
    gradient reversal (DANN)."""

    name = "adversarial"
    tasks = CLASSIFICATION  # the discriminator reads pooled sentence vectors

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        lambda_max: Annotated[float, Range(ge=0)] = 0.1,
        gamma: Annotated[float, Range(gt=0)] = 10.0,
        discriminator_hidden: Annotated[int, Range(ge=1)] = 256,
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.lambda_max, self.gamma = lambda_max, gamma
        self.discriminator_hidden = discriminator_hidden

    def unlabelled_languages(self, source: str, targets: list[str]) -> list[str]:
        return list(targets)

    def prepare(self, net: TransferNetwork) -> None:
        self.languages = [self.source, *self.targets]
        net.extras["discriminator"] = nn.Sequential(
            nn.Linear(net.hidden_size, self.discriminator_hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(self.discriminator_hidden, len(self.languages)),
        )

    def lambda_at(self, progress: float) -> float:
        """DANN schedule: 0 at the start, rising smoothly to lambda_max."""
        return self.lambda_max * (2.0 / (1.0 + math.exp(-self.gamma * progress)) - 1.0)

    def train_dataloader(self, data: TrainingData, stage: Stage):
        """One labelled source batch and one unlabelled target batch per step."""
        labelled = data.loader(data.labelled[self.source])
        text = concatenate_datasets([data.unlabelled[lang] for lang in self.targets])
        return {"labelled": labelled, "unlabelled": data.loader(text)}

    def training_loss(self, net, task, batch, ctx: StepContext):
        labelled, unlabelled = batch["labelled"], batch["unlabelled"]
        source_vec = net.embed(labelled["input_ids"], labelled["attention_mask"])
        target_vec = net.embed(unlabelled["input_ids"], unlabelled["attention_mask"])
        task = F.cross_entropy(net.classify(source_vec), labelled["labels"])
        lambd = self.lambda_at(ctx.progress)
        features = torch.cat([source_vec, target_vec])
        langs = torch.tensor(
            [self.languages.index(x) for x in labelled["lang"] + unlabelled["lang"]],
            device=features.device,
        )
        logits = net.extras["discriminator"](reverse_gradient(features, lambd))
        adversarial = F.cross_entropy(logits, langs)
        accuracy = (logits.argmax(-1) == langs).float().mean()
        return task + adversarial, {
            "task_loss": task.detach(),
            "language_loss": adversarial.detach(),
            "language_acc": accuracy,
            "lambda": torch.tensor(lambd),
        }

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "strategy.lambda_max": str(self.lambda_max)}
