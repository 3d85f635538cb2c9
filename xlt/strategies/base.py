"""A transfer strategy is a policy, not a driver: it declares which languages' labelled (or
unlabelled) TRAIN data it trains on, which parameters move and in which groups, the loss of one
batch given the network, the batch and a `StepContext`, and its stages. It never holds the
datamodule, the LightningModule or the Trainer: the stage runner (xlt/training/stages.py)
executes its stages. Adding a strategy is one module here and one yaml in conf/strategy/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from datasets import concatenate_datasets

from xlt.data.dataset_splits import DatasetSplits
from xlt.data.training_data import TrainingData
from xlt.errors import ConfigError
from xlt.models.network import TransferNetwork
from xlt.tasks import ALL_TASKS
from xlt.tasks.base import TaskFamily


@dataclass(frozen=True)
class Stage:
    """One training stage. Stages share one continuous step count in the logs."""

    name: str = "train"
    max_epochs: int | None = None  # None: trainer.max_epochs
    # With max_epochs None: small data gets more epochs, up to trainer.min_train_steps optimizer
    # steps. False where an epoch is not a step count (one full-batch L-BFGS step per epoch).
    follows_step_budget: bool = True
    select_on_dev: bool = True  # keep the best checkpoint by source dev; False: the final weights
    start_from_selected: bool = True  # begin from the previous stage's selected weights


@dataclass(frozen=True)
class StepContext:
    """All a training loss may know about where training is (nothing from Lightning)."""

    step: int  # optimizer steps taken in this stage
    total_steps: int  # optimizer steps this stage will take
    epoch: int  # epoch within this stage
    global_step: int  # optimizer steps over every stage so far
    stage: Stage

    @property
    def progress(self) -> float:
        """Fraction of this stage done, in [0, 1]."""
        return min(1.0, self.step / max(1, self.total_steps))


@dataclass(frozen=True)
class RunContext:
    """What a strategy may know of the run it is part of, before the model loads: the tracking
    store (to find an earlier run to start from) and what identifies this run. Strategies get
    this, never the config or the run's tracker."""

    open_client: Callable[[], Any]  # an MlflowClient on the run's store, opened on first use
    store: str  # its URI, for messages
    run_id: str | None  # this run (None before it exists)
    resumed: bool  # a resumed run reuses what it resolved the first time (its tags)
    dataset: str
    model: str
    seed: int
    selection: str
    fingerprint: str  # the data's: an earlier run must have read the same data

    @property
    def client(self) -> Any:
        """The store's client: opening it costs MLflow's import and a request, so only a
        strategy that looks an earlier run up pays it."""
        return self.open_client()


@dataclass
class Pretrained:
    """What a strategy's unsupervised phase produced, for the run to record."""

    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)  # artifact folder -> local folder


class TransferStrategy:
    """The policy interface every strategy implements (see the module docstring)."""

    name = "base"
    tasks: tuple[str, ...] = ALL_TASKS  # task families (dataset.task) it can train
    # Its optimizer may have gradients clipped (trainer.gradient_clip_val); a line-search
    # optimizer (L-BFGS) needs the true gradient.
    clips_gradients = True

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
    ) -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler

    def supported_tasks(self) -> tuple[str, ...]:
        """Task families this configured strategy can train (options may narrow `tasks`)."""
        return self.tasks

    # --- data -------------------------------------------------------------------------------
    def train_languages(self, source: str, targets: list[str]) -> list[str]:
        """Languages whose labelled TRAIN split is used. Zero-shot: the source alone."""
        return [source]

    def unlabelled_languages(self, source: str, targets: list[str]) -> list[str]:
        """Languages whose TRAIN text is used without labels (adversarial adaptation)."""
        return []

    def check(self, data: DatasetSplits, source: str, targets: list[str]) -> None:
        """Raise ConfigError when the strategy cannot apply to this data (before model loading).
        Also binds the run's languages, which `prepare` uses."""
        self.source, self.targets = source, list(targets)
        wanted = self.train_languages(source, targets) + self.unlabelled_languages(source, targets)
        for lang in wanted:
            if lang not in data.languages_of("train"):
                raise ConfigError(
                    f"strategy {self.name!r} trains on {lang!r} data, but the dataset has no "
                    f"{lang!r} train split (it has {data.languages_of('train')})."
                )

    def train_dataloader(self, data: TrainingData, stage: Stage) -> Any:
        """Default: every training language's labelled examples together, shuffled. A dict of
        loaders gives one batch of each per step."""
        sets = [data.labelled[lang] for lang in data.labelled]
        return data.loader(concatenate_datasets(sets))

    def setup_run(self, run: RunContext) -> dict[str, str]:
        """Resolve what needs the tracking store (a previous run to start from, matched on the
        data fingerprint), before the model loads; returns tags that record what it chose."""
        return {}

    def initial_weights(self) -> Path | None:
        """Weights of another run this strategy starts from (recorded with their protocol)."""
        return None

    # --- model ------------------------------------------------------------------------------
    def prepare(self, net: TransferNetwork) -> None:
        """Freeze, wrap or extend parts of the network before training."""

    def optimizer_groups(self, net: TransferNetwork, stage: Stage) -> list[dict[str, Any]]:
        """Parameter groups: no weight decay on biases and norms; frozen weights get no state."""
        decay, no_decay = [], []
        for param in net.parameters():
            if param.requires_grad:
                (decay if param.ndim >= 2 else no_decay).append(param)
        return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]

    def pretrain(self, net: TransferNetwork, data: TrainingData, tokenizer) -> Pretrained | None:
        """Parts built without labels before the task stages (MAD-X's language adapters, by
        masked language modelling on `data`'s unlabelled text), or loaded from a cache."""
        return None

    def finish(self) -> dict[str, float]:
        """After testing: keep what the strategy built for later runs; metrics to log."""
        return {}

    # --- training ---------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        """The stages the runner executes, in order."""
        return [Stage()]

    def training_loss(
        self, net: TransferNetwork, task: TaskFamily, batch: dict[str, Any], ctx: StepContext
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of one training batch, plus extra values to log."""
        return task.loss(net, batch), {}

    def describe(self) -> dict[str, str]:
        """Parameters worth a tag, so runs of one strategy can be told apart in MLflow."""
        lr = getattr(self.optimizer, "keywords", {}).get("lr")
        return {"strategy": self.name, **({"strategy.lr": str(lr)} if lr is not None else {})}
