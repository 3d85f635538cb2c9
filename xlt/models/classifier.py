"""Sentence (and sentence-pair) classification: the pooled encoder output through the head, or
through the example's language head when a strategy added them (multitask)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from xlt.models.network import TransferNetwork


class SequenceClassifier(TransferNetwork):
    """Logits [batch, labels] from the pooled sentence embedding."""

    def classify(self, pooled: torch.Tensor, langs: Sequence[str] | str | None = None):
        pooled = self.dropout(pooled)
        if not self.language_heads or langs is None:
            return self.head(pooled)
        if isinstance(langs, str):
            langs = [langs] * pooled.shape[0]
        logits = pooled.new_empty(pooled.shape[0], self.head.out_features)
        for lang in set(langs):
            rows = torch.tensor([i for i, x in enumerate(langs) if x == lang], device=pooled.device)
            head = self.language_heads[lang if lang in self.language_heads else self.fallback_lang]
            logits[rows] = head(pooled[rows])
        return logits

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        langs: Sequence[str] | str | None = None,
    ) -> torch.Tensor:
        return self.classify(self.embed(input_ids, attention_mask, langs), langs)
