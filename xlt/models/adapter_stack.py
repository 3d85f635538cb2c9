"""MAD-X's arrangement of adapters on one `peft` model: a language adapter per language and one
task adapter, both active while a language is read (Pfeiffer et al., 2020). Only the task
adapter (and the head) ever trains after the language adapters were built; `peft` marks every
adapter it activates as trainable, so routing re-freezes the language adapters each time.

LoRA deltas of the active adapters add up inside the same linear layers; MAD-X's bottleneck
adapters are stacked modules after each layer (the language adapter's output feeds the task
adapter). `peft` has no bottleneck adapter, so xlt stacks by sum."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import torch
from torch import nn

from xlt.config.bounds import Range
from xlt.errors import ConfigError

TASK_ADAPTER = "task"


def language_adapter(lang: str) -> str:
    """The peft adapter name of `lang`'s language adapter (a parameter-name part)."""
    return f"lang_{lang}"


@dataclass(frozen=True)
class AdapterShape:
    """Size and placement of one LoRA adapter."""

    r: Annotated[int, Range(ge=1)] = 8  # LoRA rank
    alpha: Annotated[float, Range(gt=0)] = 16  # scale = alpha / r
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.1  # LoRA dropout on the adapter's input
    # Linear layers that get a LoRA delta (peft's suffix match on module names)
    target_modules: tuple[str, ...] = ("query", "value", "intermediate.dense", "output.dense")
    skip_last_layer: bool = False  # MAD-X 2.0: no adapter in the last transformer layer

    def lora_config(self, num_layers: int):
        from peft import LoraConfig

        layers = list(range(num_layers - 1)) if self.skip_last_layer else None
        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=list(self.target_modules),
                          layers_to_transform=layers)  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout,
                "target_modules": list(self.target_modules),
                "skip_last_layer": self.skip_last_layer}  # fmt: skip


def adapter_shape(spec: dict[str, Any] | AdapterShape | None) -> AdapterShape:
    """An AdapterShape from a config mapping (unknown keys named in one line)."""
    if isinstance(spec, AdapterShape):
        return spec
    spec = dict(spec or {})
    known = set(AdapterShape.__dataclass_fields__)
    if unknown := sorted(set(spec) - known):
        raise ConfigError(f"adapter settings: unknown key(s) {unknown}; known: {sorted(known)}")
    if "target_modules" in spec:
        spec["target_modules"] = tuple(spec["target_modules"])
    return AdapterShape(**spec)


@dataclass
class AdapterStack:
    """The adapters on a peft-wrapped encoder and which of them read each language."""

    encoder: nn.Module  # a peft PeftModel
    languages: list[str] = field(default_factory=list)  # those with a language adapter
    active: str | None = None  # the language whose adapter is active now

    def add_language(self, lang: str, shape: AdapterShape, num_layers: int) -> None:
        self.encoder.add_adapter(language_adapter(lang), shape.lora_config(num_layers))
        self.languages.append(lang)

    def language_parameters(self, lang: str) -> dict[str, torch.Tensor]:
        """`lang`'s adapter weights by parameter name."""
        part = f".{language_adapter(lang)}."
        return {n: p for n, p in self.encoder.named_parameters() if part in n}

    def task_parameters(self) -> dict[str, torch.Tensor]:
        part = f".{TASK_ADAPTER}."
        return {n: p for n, p in self.encoder.named_parameters() if part in n}

    def train_language(self, lang: str) -> None:
        """`lang`'s adapter alone active and trainable (masked language modelling)."""
        self.encoder.base_model.set_adapter([language_adapter(lang)])
        self.active = None

    def read(self, lang: str) -> None:
        """`lang`'s language adapter under the task adapter; only the task adapter trains."""
        if lang == self.active:
            return
        if lang not in self.languages:
            raise ConfigError(f"MAD-X has no language adapter for {lang!r} (it has "
                              f"{self.languages}); give strategy.corpus.{lang}=PATH or "
                              f"strategy.language_adapters.{lang}=RUN_ID|PATH")  # fmt: skip
        base = self.encoder.base_model
        base.set_adapter([language_adapter(lang), TASK_ADAPTER])  # marks both trainable
        base.set_requires_grad([language_adapter(x) for x in self.languages], False)
        self.active = lang

    def route(self, lang: str | None) -> None:
        """The network's hook, once per language of a batch (None: keep the active one)."""
        if lang is not None:
            self.read(lang)
