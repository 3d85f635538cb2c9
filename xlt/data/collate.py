"""Dynamic padding: each batch is padded to its own longest sequence, not to max_length."""

from __future__ import annotations

import numpy as np
import torch


class PadCollator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        longest = max(len(r["input_ids"]) for r in rows)
        input_ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            input_ids[i, :n] = torch.as_tensor(row["input_ids"], dtype=torch.long)
            attention_mask[i, :n] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "label" in rows[0]:
            batch["labels"] = torch.as_tensor([r["label"] for r in rows], dtype=torch.long)
        if "lang" in rows[0]:
            batch["lang"] = [r["lang"] for r in rows]  # routes language heads, discriminators
        return batch


class SwitchingCollator(PadCollator):
    """Rewrites source rows at batch time (dynamic code-switching), then tokenises and pads.
    Its random draws continue from batch to batch, so each epoch sees new switches."""

    def __init__(
        self,
        pad_id: int,
        tokenizer,
        max_length: int,
        text_prefix: str,
        augmentation,
        source: str,
        seed: int,
    ) -> None:
        super().__init__(pad_id)
        self.tokenizer, self.max_length, self.text_prefix = tokenizer, max_length, text_prefix
        self.augmentation, self.source = augmentation, source
        self.rng = np.random.default_rng(seed)
        self.replaced = self.eligible = 0

    def __call__(self, rows: list[dict]) -> dict:
        rows = [dict(r) for r in rows]
        for row in rows:
            if row["lang"] == self.source:
                text, replaced, eligible = self.augmentation.switch(
                    row["text"], row["lang"], self.rng
                )
                self.replaced, self.eligible = self.replaced + replaced, self.eligible + eligible
                row["input_ids"] = self.tokenizer(
                    self.text_prefix + text, truncation=True, max_length=self.max_length
                )["input_ids"]
        return super().__call__(rows)
