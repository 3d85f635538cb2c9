"""An allocation failure during training, turned into advice the user can act on."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from xlt.errors import XltError


def out_of_memory(err: BaseException, cfg: DictConfig) -> BaseException:
    """An allocation failure becomes advice (the checkpoints written so far stay); others pass."""
    text = str(err).lower()
    if not isinstance(err, torch.OutOfMemoryError) and "memory" not in text:
        return err
    batch, half = cfg.dataset.batch_size, max(1, cfg.dataset.batch_size // 2)
    return XltError(
        f"out of memory training with dataset.batch_size={batch}, model.max_length="
        f"{cfg.model.max_length} ({type(err).__name__}). Try dataset.batch_size={half}"
        f" trainer.accumulate_grad_batches={2 * cfg.trainer.accumulate_grad_batches} (the same "
        "examples per step), a smaller model.max_length, or trainer.precision=bf16-mixed on a GPU."
    )
