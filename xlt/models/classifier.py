"""Encoder + pooling + linear head: the network every classification strategy trains."""

from __future__ import annotations

import torch
from torch import nn

from xlt.config.schema import Pooling
from xlt.models.pooling import pool


class SequenceClassifier(nn.Module):
    def __init__(
        self,
        encoder: nn.Module,
        num_labels: int,
        pooling: Pooling = Pooling.mean,
        head_dropout: float = 0.1,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = Pooling(pooling)
        self.dropout = nn.Dropout(head_dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        self.encoder_frozen = False
        self.train()  # from_pretrained returns eval mode; fine-tuning needs the encoder's dropout
        if freeze_embeddings:
            # The word-embedding table is most of a multilingual model (96 M of e5-small's 118 M):
            # freezing it keeps the languages' shared vocabulary space intact and training fast.
            self.encoder.get_input_embeddings().weight.requires_grad_(False)

    def freeze_encoder(self) -> None:
        """Fixed features: no gradients, and dropout off so the features are deterministic."""
        self.encoder.requires_grad_(False)
        self.encoder_frozen = True
        self.encoder.eval()

    def train(self, mode: bool = True) -> SequenceClassifier:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool(hidden, attention_mask, self.pooling)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(input_ids, attention_mask)))

    def count_parameters(self) -> tuple[int, int]:
        """(trainable, total)."""
        params = list(self.parameters())
        return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
