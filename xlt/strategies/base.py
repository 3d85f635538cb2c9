"""A transfer strategy decides what trains on what: which languages' labelled (or unlabelled)
data reaches training, which parameters move, how a batch becomes a loss, and in how many
stages. New strategies subclass this; the pipeline and the LightningModule call these hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from xlt.data.transfer_data import TransferData
from xlt.models.classifier import SequenceClassifier

if TYPE_CHECKING:
    import lightning as L

    from xlt.data.datamodule import TransferDataModule
    from xlt.training.module import TransferModule


class TransferStrategy:
    name = "base"

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
    ) -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler

    def supported_tasks(self) -> tuple[str, ...]:
        """Task families (dataset.task) this strategy can train."""
        from xlt.tasks import ALL_TASKS

        return ALL_TASKS

    # --- data -------------------------------------------------------------------------------
    def train_languages(self, source: str, targets: list[str]) -> list[str]:
        """Languages whose labelled TRAIN split is used. Zero-shot: the source alone."""
        return [source]

    def unlabelled_languages(self, source: str, targets: list[str]) -> list[str]:
        """Languages whose TRAIN text is used without labels (adversarial adaptation)."""
        return []

    def check(self, data: TransferData, source: str, targets: list[str]) -> None:
        """Raise ConfigError when the strategy cannot apply to this data (before model loading).
        Also binds the run's languages, which later hooks use."""
        self.source, self.targets = source, list(targets)
        for lang in self.train_languages(source, targets) + self.unlabelled_languages(
            source, targets
        ):
            if lang not in data.languages_of("train"):
                from xlt.errors import ConfigError

                raise ConfigError(
                    f"strategy {self.name!r} trains on {lang!r} data, but the dataset has no "
                    f"{lang!r} train split (it has {data.languages_of('train')})."
                )

    def train_dataloader(self, dm: TransferDataModule):
        """Default: every training language's labelled examples together, shuffled."""
        from datasets import concatenate_datasets

        sets = [dm.train_sets[lang] for lang in dm.train_langs]
        return dm.loader(concatenate_datasets(sets), dm.batch_size, shuffle=True)

    def setup_run(self, cfg, tracker) -> None:
        """Resolve what needs the tracking store (a previous run to start from), before loading."""

    # --- model ------------------------------------------------------------------------------
    def prepare(self, net: SequenceClassifier) -> None:
        """Freeze, wrap or extend parts of the network before training."""

    def optimizer_groups(self, net: SequenceClassifier) -> list[dict[str, Any]]:
        """Parameter groups: no weight decay on biases and norms; frozen weights get no state."""
        decay, no_decay = [], []
        for param in net.parameters():
            if param.requires_grad:
                (decay if param.ndim >= 2 else no_decay).append(param)
        return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]

    # --- training ---------------------------------------------------------------------------
    def training_loss(
        self, module: TransferModule, batch: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of one training batch, plus extra values to log."""
        return module.task.loss(module.net, batch), {}

    def fit(self, trainer: L.Trainer, module: TransferModule, dm: TransferDataModule, make_trainer):
        """Train; the returned checkpoint path (or None) holds the weights to test."""
        trainer.fit(module, datamodule=dm, ckpt_path=module.resume_from, weights_only=True)
        return trainer.checkpoint_callback.best_model_path or None

    def describe(self) -> dict[str, str]:
        """Parameters worth a tag, so runs of one strategy can be told apart in MLflow."""
        lr = getattr(self.optimizer, "keywords", {}).get("lr")
        return {"strategy": self.name, **({"strategy.lr": str(lr)} if lr is not None else {})}
