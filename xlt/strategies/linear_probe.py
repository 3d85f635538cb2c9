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

import torch

from xlt.models.feature_cache import FeatureCache, cache_file
from xlt.models.network import TransferNetwork, encoder_architecture
from xlt.strategies.base import TransferStrategy


class LinearProbe(TransferStrategy):
    """Frozen encoder, only the head trains: the feature-based baseline (features cached)."""

    name = "linear_probe"

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        cache_features: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.cache_features = cache_features
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.cache: FeatureCache | None = None

    def prepare(self, net: TransferNetwork) -> None:
        net.freeze_encoder()
        if not self.cache_features:
            return
        path = None
        if self.cache_dir is not None:
            encoder_id = encoder_architecture(net.encoder, net.source)
            path = cache_file(self.cache_dir, encoder_id, net.pooling.value)
        self.cache = net.feature_cache = FeatureCache(path)

    def finish(self) -> dict[str, float]:
        if self.cache is None:
            return {}
        self.cache.save()
        return self.cache.stats()

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "strategy.cache_features": str(self.cache_features)}
