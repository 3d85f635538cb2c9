"""Partial fine-tuning: freeze the embeddings and the lowest N transformer layers, and/or use
layer-wise learning-rate decay (lower layers, which hold the most language-general features,
move less). The run logs how many parameters train."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import torch
from torch import nn

from xlt.config.bounds import Range
from xlt.errors import ConfigError
from xlt.models.lower_cache import LowerLayerCache
from xlt.models.network import TransferNetwork
from xlt.strategies.base import Stage, TransferStrategy


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a BERT / XLM-R style encoder."""
    for path in ("encoder.layer", "base_model.encoder.layer", "layers"):
        module = encoder
        try:
            for part in path.split("."):
                module = getattr(module, part)
            return module
        except AttributeError:
            continue
    raise ValueError(f"cannot find the transformer layers of {type(encoder).__name__}")


class FreezeLower(TransferStrategy):
    """Partial fine-tuning: embeddings and lowest layers frozen, optional layer-wise LR decay;
    `cache_lower` computes the frozen part once per row (without dropout)."""

    name = "freeze_lower"

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        freeze_layers: Annotated[int, Range(ge=0)] = 6,
        freeze_embeddings: bool = True,
        layer_lr_decay: Annotated[float | None, Range(gt=0, le=1)] = None,
        cache_lower: bool = False,
        cache_lower_max_mib: Annotated[int, Range(ge=0)] = 2048,
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.freeze_layers, self.freeze_embeddings = freeze_layers, freeze_embeddings
        self.layer_lr_decay = layer_lr_decay
        self.cache_lower, self.cache_lower_max_mib = cache_lower, cache_lower_max_mib
        self.lower_cache: LowerLayerCache | None = None

    def prepare(self, net: TransferNetwork) -> None:
        layers = encoder_layers(net.encoder)
        if self.freeze_layers > len(layers):
            raise ConfigError(
                f"strategy.freeze_layers={self.freeze_layers} but the encoder has {len(layers)}"
            )
        if self.freeze_embeddings:
            net.encoder.embeddings.requires_grad_(False)
        for layer in layers[: self.freeze_layers]:
            layer.requires_grad_(False)
        if self.cache_lower:
            self.attach_lower_cache(net, layers)

    def attach_lower_cache(self, net: TransferNetwork, layers: nn.ModuleList) -> None:
        """Frozen embeddings and lower layers, run without dropout, computed once per row."""

        if not self.freeze_embeddings:
            raise ConfigError(
                "strategy.cache_lower=true needs strategy.freeze_embeddings=true "
                "(trainable embeddings change the lower layers' outputs)"
            )
        if not hasattr(net.encoder, "embeddings"):
            raise ConfigError(f"strategy.cache_lower: {type(net.encoder).__name__} has no "
                              "`embeddings` module; set strategy.cache_lower=false")  # fmt: skip
        max_bytes = self.cache_lower_max_mib * 2**20
        self.lower_cache = LowerLayerCache(net.encoder, layers, self.freeze_layers, max_bytes)
        net.lower_cache = self.lower_cache

    def finish(self) -> dict[str, float]:
        return self.lower_cache.stats() if self.lower_cache is not None else {}

    def optimizer_groups(self, net: TransferNetwork, stage: Stage):
        if self.layer_lr_decay is None:
            return super().optimizer_groups(net, stage)
        base = self.optimizer.keywords["lr"]
        layers = encoder_layers(net.encoder)
        depth = {id(p): i + 1 for i, layer in enumerate(layers) for p in layer.parameters()}
        depth.update({id(p): 0 for p in net.encoder.embeddings.parameters()})
        top = len(layers) + 1  # the head and anything above the encoder: full learning rate
        groups: dict[tuple[int, bool], list] = {}
        for param in net.parameters():
            if param.requires_grad:
                key = (depth.get(id(param), top), param.ndim >= 2)
                groups.setdefault(key, []).append(param)
        return [
            {
                "params": params,
                "lr": base * self.layer_lr_decay ** (top - level),
                **({} if decays else {"weight_decay": 0.0}),
            }
            for (level, decays), params in sorted(groups.items(), key=lambda kv: kv[0])
        ]

    def describe(self) -> dict[str, str]:
        tags = {**super().describe(), "strategy.freeze_layers": str(self.freeze_layers),
                "strategy.cache_lower": str(self.cache_lower)}  # fmt: skip
        if self.layer_lr_decay is not None:
            tags["strategy.layer_lr_decay"] = str(self.layer_lr_decay)
        return tags
