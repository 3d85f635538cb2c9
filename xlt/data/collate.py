"""Dynamic padding: each batch is padded to its own longest sequence, not to max_length."""

from __future__ import annotations

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
