"""The interface of a task family; the pipeline, datamodule and LightningModule call only this."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from xlt.models.network import TransferNetwork


EvalKey = tuple[str, str]  # (split, language): one evaluation loader and scorer each


ROW = "row"  # every evaluation batch carries its rows' positions in the evaluation set


def gathered(state: dict[int, Any]) -> dict[int, Any]:
    """Per-row state from every process, each row once and in row order. Under DDP each
    process scores its shard, and the sampler pads shards with repeated rows: keyed by row
    position, the merged state is exactly the single-process one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        parts: list[dict[int, Any] | None] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, state)
        state = {row: value for part in parts for row, value in (part or {}).items()}
    return dict(sorted(state.items()))


class Scorer(nn.Module):
    """Accumulates one (split, language)'s predictions over batches, keyed by row position so
    that `compute` (which every process calls, in the same order) scores each row once."""

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

    def build_net(self, encoder: nn.Module, num_labels: int, model_cfg) -> TransferNetwork:
        raise NotImplementedError

    def loss(self, net: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    def scorer(self, label_names: list[str], features: Dataset, examples: Dataset) -> Scorer:
        raise NotImplementedError
