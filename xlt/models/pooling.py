"""Sentence vectors from token states: mean pooling (e5, sentence encoders) or the first token."""

from __future__ import annotations

import torch

from xlt.config.schema import Pooling


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, method: Pooling) -> torch.Tensor:
    if method == Pooling.cls:
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
