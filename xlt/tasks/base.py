"""The interface of a task family; the pipeline, datamodule and LightningModule call only this."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from xlt.models.classifier import SequenceClassifier


EvalKey = tuple[str, str]  # (split, language): one evaluation loader and scorer each


class Scorer(nn.Module):
    """Accumulates one (split, language)'s predictions over batches; `compute` gives metrics.
    A module, so torchmetrics-based scorers move to the device and sync across processes."""

    def update(self, outputs: torch.Tensor, batch: dict[str, Any]) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def row_scores(self) -> dict[str, list]:
        """Per evaluated row (before `reset`): its `id` and what the primary metric is made of
        (`acc` per row; `f1`/`em` per question; entity `tp`/`fp`/`fn` per sentence), so a
        report can bootstrap over test rows and pair runs row by row."""
        return {}


class TaskFamily:
    name = "base"
    columns: tuple[str, ...] = ()  # per-row columns besides id and lang
    primary_metric = "acc"  # selects the checkpoint and defines the transfer gap
    metric_names: tuple[str, ...] = ("acc",)
    loader_columns: tuple[str, ...] = ("input_ids", "label", "lang")

    def tokenize(
        self,
        ds: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_length: int,
        text_prefix: str,
        cache_dir: str | Path,
        key: list,
        train: bool,
    ) -> Dataset:
        raise NotImplementedError

    def collator(self, tokenizer: PreTrainedTokenizerBase):
        raise NotImplementedError

    def build_net(self, encoder: nn.Module, num_labels: int, model_cfg) -> SequenceClassifier:
        raise NotImplementedError

    def loss(self, net: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    def scorer(self, label_names: list[str], features: Dataset, examples: Dataset) -> Scorer:
        raise NotImplementedError
