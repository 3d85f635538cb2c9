"""Heads for token-level tasks on the same encoder: a tag per token (NER, POS) and a start/end
score per token (extractive QA). They reuse TransferNetwork's freezing, counting and
checkpoint record, so strategies that only touch the encoder work unchanged."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from xlt.models.network import TransferNetwork


class TokenTagger(TransferNetwork):
    """Logits [batch, tokens, labels]."""

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        langs: Sequence[str] | str | None = None,
    ) -> torch.Tensor:
        return self.head(self.dropout(self.token_states(input_ids, attention_mask, langs)))


class SpanExtractor(TokenTagger):
    """Start and end logits [batch, tokens, 2] (SQuAD-style span head): two "tags" per token,
    padding never a span boundary."""

    def __init__(self, encoder: nn.Module, **kwargs) -> None:
        super().__init__(encoder, num_labels=2, **kwargs)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        langs: Sequence[str] | str | None = None,
    ) -> torch.Tensor:
        logits = super().forward(input_ids, attention_mask, langs)
        return logits.masked_fill(~attention_mask.bool().unsqueeze(-1), -1e4)
