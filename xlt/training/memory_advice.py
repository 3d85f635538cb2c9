"""An allocation failure during training, turned into advice the user can act on."""

from __future__ import annotations

import torch

from xlt.errors import XltError


def out_of_memory(
    err: BaseException, batch_size: int, max_length: int, accumulate: int
) -> BaseException:
    """An allocation failure becomes advice (the checkpoints written so far stay); others pass.
    The settings are the run's dataset.batch_size, model.max_length and
    trainer.accumulate_grad_batches."""
    text = str(err).lower()
    if not isinstance(err, torch.OutOfMemoryError) and "memory" not in text:
        return err
    half = max(1, batch_size // 2)
    return XltError(
        f"out of memory training with dataset.batch_size={batch_size}, model.max_length="
        f"{max_length} ({type(err).__name__}). Try dataset.batch_size={half}"
        f" trainer.accumulate_grad_batches={2 * accumulate} (the same "
        "examples per step), a smaller model.max_length, or trainer.precision=bf16-mixed on a GPU."
    )
