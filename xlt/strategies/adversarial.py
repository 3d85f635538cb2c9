"""Language-adversarial adaptation (Ganin et al. 2016; Chen et al. 2018 for cross-lingual text):
a discriminator learns to tell the language of a pooled sentence vector, and the encoder learns
to defeat it, towards language-invariant features. Two encoder objectives:
- `reversal` (DANN): a gradient reversal layer, so the encoder maximises the discriminator's
  loss. Unbounded: with English half of every batch, the discriminator can settle on
  "English", and the encoder then moves every target sentence into that region (it collapsed
  to chance on 8 gettext languages: docs/how-to/many-languages.md).
- `confusion` (Tzeng et al. 2015): the encoder makes the discriminator's output uniform over
  the languages (cross-entropy against the uniform distribution, through a frozen copy of the
  discriminator); bounded, its optimum is "cannot tell", not "wrong".
It trains on labelled source data plus UNLABELLED target TRAIN text (labels dropped)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from datasets import concatenate_datasets
from torch import nn

from xlt.config.bounds import Range
from xlt.data.training_data import TrainingData
from xlt.errors import ConfigError
from xlt.models.gradient_reversal import reverse_gradient
from xlt.models.network import TransferNetwork
from xlt.strategies.base import Stage, StepContext, TransferStrategy
from xlt.tasks import CLASSIFICATION

OBJECTIVES = ("reversal", "confusion")


def uniform_confusion(discriminator: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the discriminator's output against the uniform distribution, with the
    discriminator's weights held fixed: only the encoder learns from it (log K at best)."""
    frozen = {name: weight.detach() for name, weight in discriminator.named_parameters()}
    logits = torch.func.functional_call(discriminator, frozen, (features,))
    return -F.log_softmax(logits.float(), dim=-1).mean()


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
        objective: Literal["reversal", "confusion"] = "reversal",
    ) -> None:
        super().__init__(optimizer, scheduler)
        if objective not in OBJECTIVES:
            raise ConfigError(f"strategy.objective={objective!r}: use one of {OBJECTIVES} "
                              "(gradient reversal, or the uniform-confusion loss)")  # fmt: skip
        self.lambda_max, self.gamma = lambda_max, gamma
        self.discriminator_hidden, self.objective = discriminator_hidden, objective

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
        discriminator = net.extras["discriminator"]
        if self.objective == "reversal":
            logits = discriminator(reverse_gradient(features, lambd))
            language = F.cross_entropy(logits, langs)
            encoder_term = language  # the reversed gradient of the same loss
        else:
            logits = discriminator(features.detach())  # the discriminator learns languages
            language = F.cross_entropy(logits, langs)
            confusion = uniform_confusion(discriminator, features)
            encoder_term = language + lambd * confusion
        accuracy = (logits.argmax(-1) == langs).float().mean()
        extra = {} if self.objective == "reversal" else {"confusion_loss": confusion.detach()}
        return task + encoder_term, {
            "task_loss": task.detach(),
            "language_loss": language.detach(),
            "language_acc": accuracy,
            "lambda": torch.tensor(lambd),
            **extra,
        }

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "strategy.lambda_max": str(self.lambda_max),
                "strategy.objective": self.objective}  # fmt: skip
