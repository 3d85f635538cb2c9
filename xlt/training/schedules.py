"""Learning-rate schedules, given the total step count Lightning computes at fit time."""

from __future__ import annotations

from typing import Annotated

import torch
from torch.optim.lr_scheduler import LambdaLR

from xlt.config.bounds import Range


def linear_warmup(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_ratio: Annotated[float, Range(ge=0, lt=1, doc="share of steps warming up")] = 0.1,
    warmup_steps: Annotated[
        int | None, Range(ge=0, doc="optimizer steps warming up; overrides warmup_ratio")
    ] = None,
):
    """Linear warm-up (over `warmup_steps`, else `warmup_ratio` of the steps), then linear
    decay to zero (BERT recipe). `warmup_steps=0`: decay from the first step (XTREME's
    classification and tagging scripts)."""
    if warmup_steps == 0:
        return LambdaLR(optimizer, lambda step: max(0.0, (total_steps - step) / total_steps))
    warmup = warmup_steps if warmup_steps is not None else max(1, int(warmup_ratio * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return LambdaLR(optimizer, factor)
