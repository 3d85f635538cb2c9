"""Parameter-efficient transfer with `peft`: the encoder stays frozen and a small task adapter
(LoRA, or IA3) trains on the source language with the head; targets are evaluated through the
same adapter. Its few parameters keep the multilingual space nearly untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import torch

from xlt.config.bounds import Range
from xlt.errors import ConfigError
from xlt.models.network import TransferNetwork
from xlt.strategies.base import TransferStrategy


class TaskAdapter(TransferStrategy):
    """One LoRA (or IA3) task adapter and the head over a frozen encoder (`peft`); no per-language
    parts."""

    name = "task_adapter"

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        method: str = "lora",
        r: Annotated[int, Range(ge=1)] = 8,
        alpha: Annotated[float, Range(gt=0)] = 16,
        dropout: Annotated[float, Range(ge=0, lt=1)] = 0.1,
        target_modules: list[str] | None = None,
    ) -> None:
        super().__init__(optimizer, scheduler)
        if method not in ("lora", "ia3"):
            raise ConfigError(f"strategy.method={method!r}: use 'lora' or 'ia3'")
        self.method, self.r, self.alpha, self.dropout = method, r, alpha, dropout
        self.target_modules = list(target_modules or ["query", "value"])

    def adapter_config(self):
        from peft import IA3Config, LoraConfig

        if self.method == "lora":
            return LoraConfig(
                r=self.r,
                lora_alpha=self.alpha,
                lora_dropout=self.dropout,
                target_modules=self.target_modules,
            )
        return IA3Config(target_modules=[*self.target_modules, "output.dense"],
                         feedforward_modules=["output.dense"])  # fmt: skip

    def prepare(self, net: TransferNetwork) -> None:
        from peft import get_peft_model

        net.encoder = get_peft_model(net.encoder, self.adapter_config())  # base weights frozen

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "strategy.method": self.method, "strategy.r": str(self.r)}
