"""Sentence features of a frozen encoder, computed once per distinct input row and reused: across
a linear probe's epochs (training and every dev pass read the same rows again) and, saved to
disk, across runs. A row's key is its token ids (the text prefix and length limit are in them);
the file's key is the encoder and the pooling. The encoder cannot change while the cache lives
(frozen, dropout off), so a cached vector is what a live pass computes, up to the float rounding
of another batch's padding (within 1e-5, tested). Batches, collators and metrics are untouched:
only the encoder call is memoised."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import torch

from xlt.models.pooling import pool


def cache_file(folder: Path, encoder_id: dict, pooling: str) -> Path:
    key = json.dumps({"encoder": encoder_id, "pooling": pooling}, sort_keys=True)
    return folder / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


class FeatureCache:
    """Pooled vectors by row; `computed` rows went through the encoder in this process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.vectors: dict[bytes, torch.Tensor] = {}
        self.computed = self.reused = 0
        if path is not None and path.is_file():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            self.vectors = dict(zip(saved["keys"], saved["vectors"], strict=True))
        self.loaded = len(self.vectors)

    @staticmethod
    def row_keys(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[bytes]:
        ids, mask = input_ids.cpu(), attention_mask.cpu().bool()
        return [ids[i][mask[i]].numpy().tobytes() for i in range(ids.shape[0])]

    def pooled(self, net, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The batch's sentence vectors; rows never seen go through `net`'s encoder."""
        keys = self.row_keys(input_ids, attention_mask)
        first: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        rows = [i for key, i in first.items() if key not in self.vectors]
        if rows:
            index = torch.tensor(rows, device=input_ids.device)
            with torch.no_grad():
                mask = attention_mask[index]
                vectors = pool(net.encode_tokens(input_ids[index], mask), mask, net.pooling)
            for row, vector in zip(rows, vectors, strict=True):
                self.vectors[keys[row]] = vector.detach().float().cpu()
        self.computed += len(rows)
        self.reused += len(keys) - len(rows)
        stacked = torch.stack([self.vectors[key] for key in keys])
        return stacked.to(device=input_ids.device)

    def save(self) -> None:
        """Merge into the file (another run may have added rows meanwhile), atomically."""
        if self.path is None or len(self.vectors) == self.loaded:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
            for key, vector in zip(saved["keys"], saved["vectors"], strict=True):
                self.vectors.setdefault(key, vector)
        keys = list(self.vectors)
        handle, staging = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
        with open(handle, "wb") as out:
            torch.save({"keys": keys, "vectors": torch.stack([self.vectors[k] for k in keys])},
                       out)  # fmt: skip
        Path(staging).replace(self.path)

    def stats(self) -> dict[str, float]:
        return {"features/computed": float(self.computed), "features/reused": float(self.reused),
                "features/loaded": float(self.loaded)}  # fmt: skip
