"""Feature-based baseline: the encoder stays frozen, only the classification head trains.

Every transfer table needs it: it measures how much of the transfer the pretrained
representations give before any fine-tuning. With the encoder frozen, each distinct input row's
features are computed once (training epochs and dev passes reuse them) and kept on disk for the
next run with the same encoder (xlt/models/feature_cache.py); the head still trains and is
evaluated on the same batches as without the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import torch
from datasets import concatenate_datasets

from xlt.config.bounds import Range
from xlt.data.training_data import TrainingData
from xlt.models.feature_cache import FeatureCache
from xlt.models.network import TransferNetwork
from xlt.strategies.base import Stage, StepContext, TransferStrategy
from xlt.tasks import CLASSIFICATION


class LinearProbe(TransferStrategy):
    """Frozen encoder, only the head trains: the feature-based baseline (features cached)."""

    name = "linear_probe"

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        cache_features: bool = True,
        cache_dir: str | None = None,
        full_batch: bool = False,
        l2: Annotated[float, Range(ge=0)] = 0.0,
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.cache_features, self.full_batch, self.l2 = cache_features, full_batch, l2
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.cache: FeatureCache | None = None

    def prepare(self, net: TransferNetwork) -> None:
        net.freeze_encoder()
        if self.full_batch:  # L-BFGS's line search needs the same loss for the same weights
            net.dropout.p = 0.0
        if not self.cache_features:
            return
        # keyed at first use by the weights then loaded, the pooling and the precision
        self.cache = net.feature_cache = FeatureCache(self.cache_dir)

    def train_dataloader(self, data: TrainingData, stage: Stage):
        """`full_batch`: every training row in one batch, one optimizer step per epoch (L-BFGS
        on the cached features: logistic regression trained to convergence)."""
        if not self.full_batch:
            return super().train_dataloader(data, stage)
        rows = concatenate_datasets([data.labelled[lang] for lang in data.labelled])
        return data.loader(rows, shuffle=False, batch_sampler=[list(range(len(rows)))])

    def stages(self) -> list[Stage]:
        """A full-batch epoch is one L-BFGS step run to convergence, not a step count to raise."""
        return [Stage(follows_step_budget=not self.full_batch)]

    def optimizer_groups(self, net: TransferNetwork, stage: Stage) -> list[dict[str, Any]]:
        if not self.full_batch:
            return super().optimizer_groups(net, stage)
        return [{"params": [p for p in net.parameters() if p.requires_grad]}]  # L-BFGS: 1 group

    def training_loss(self, net, task, batch, ctx: StepContext):
        loss, extra = super().training_loss(net, task, batch, ctx)
        if self.l2:  # the regulariser of logistic regression (the bias is not penalised)
            loss = loss + 0.5 * self.l2 * net.head.weight.pow(2).sum()
        return loss, extra

    def finish(self) -> dict[str, float]:
        if self.cache is None:
            return {}
        self.cache.save()
        return self.cache.stats()

    def cache_tags(self) -> dict[str, str]:
        """The feature file's key, for the run's tags (which encoder the probe read)."""
        key = self.cache.key if self.cache is not None else None
        return {f"features.{k}": v for k, v in (key or {}).items()}

    def describe(self) -> dict[str, str]:
        tags = {
            "strategy.cache_features": str(self.cache_features),
            "strategy.full_batch": str(self.full_batch),
            "strategy.l2": str(self.l2),
        }
        return {**super().describe(), **tags}


class FullBatchProbe(LinearProbe):
    """Logistic regression on the frozen features, trained to convergence: every training row
    in one batch, one L-BFGS step per epoch, L2 on the head (conf/strategy/linear_probe_lbfgs)."""

    name = "linear_probe_lbfgs"
    clips_gradients = False  # L-BFGS's line search needs the true gradient
    tasks = CLASSIFICATION  # full batches need the cached sentence features (full_batch=true)
