"""Sentence features of a frozen encoder, computed once per distinct input row and reused: across
a linear probe's epochs (training and every dev pass read the same rows again) and, saved to
disk, across runs. A row's key is its token ids (the text prefix and the length limit are in
them); the file's key is what the vectors depend on beyond the ids: a digest of the encoder
weights actually loaded (whatever `model.init_encoder`, an xlt-align output or a checkpoint put
there), the pooling, the autocast precision and the attention / projection implementation. It
is taken at first use, after every load, so bf16 and fp32 features, or two encoders' features,
never share a file. The encoder cannot change while the cache lives (frozen, dropout off), so a
cached vector is what a live pass computes, up to the float rounding of another batch's padding
(within 1e-5, tested). Batches, collators and metrics are untouched: only the encoder call is
memoised. Only training rows reach the file: rows first seen in evaluation (dev and test text)
are kept in memory for this run's later passes and never written, so no evaluation text is
stored where another run reads."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import torch
from torch import nn

from xlt.models.pooling import pool


def weights_digest(module: nn.Module) -> str:
    """sha256 of every tensor's name, dtype, shape and bytes (well under a second for e5)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


def autocast_state(device: torch.device) -> str:
    """`bf16` / `fp16` under autocast on this device type, `fp32` without."""
    kind = device.type
    if not torch.is_autocast_enabled(kind):
        return "fp32"
    dtype = torch.get_autocast_dtype(kind)
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))


def implementation(encoder: nn.Module) -> dict[str, str]:
    """The attention kernel and whether Q/K/V run as one fused matmul (xlt_serving.fused_qkv)."""
    # fused_qkv imports transformers' model code; config checks import this module (through
    # the strategies) before the heavy imports, so it is imported here, when a cache is keyed.
    from xlt_serving.fused_qkv import FUSED

    fused = any(type(m) in FUSED.values() for m in encoder.modules())
    return {"attention": str(getattr(encoder.config, "_attn_implementation", None)),
            "fused_qkv": str(fused)}  # fmt: skip


def cache_file(folder: Path, key: dict) -> Path:
    text = json.dumps(key, sort_keys=True)
    return folder / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.pt"


class FeatureCache:
    """Pooled vectors by row; `computed` rows went through the encoder in this process. The
    file (`folder` None: memory only) is chosen by `key` at first use and again whenever the
    precision changes."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.path: Path | None = None
        self.key: dict[str, str] | None = None
        self.weights: str | None = None  # digest of the encoder, taken once (it is frozen)
        self.vectors: dict[bytes, torch.Tensor] = {}
        self.training_rows: set[bytes] = set()  # the rows the file may hold
        self.computed = self.reused = self.loaded = self.on_disk = 0

    def key_for(self, net, device: torch.device) -> dict[str, str]:
        if self.weights is None:
            self.weights = weights_digest(net.encoder)
        return {"weights": self.weights, "pooling": net.pooling.value,
                "precision": autocast_state(device), **implementation(net.encoder)}  # fmt: skip

    def open(self, key: dict[str, str]) -> None:
        """Switch to the vectors of `key` (saving those of the previous key first)."""
        if self.key is not None:
            self.save()
        self.key, self.vectors = key, {}
        self.path = cache_file(self.folder, key) if self.folder is not None else None
        if self.path is not None and self.path.is_file():
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
            self.vectors = dict(zip(saved["keys"], saved["vectors"], strict=True))
        self.training_rows = set(self.vectors)
        self.loaded = self.on_disk = len(self.vectors)

    @staticmethod
    def row_keys(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[bytes]:
        ids, mask = input_ids.cpu(), attention_mask.cpu().bool()
        return [ids[i][mask[i]].numpy().tobytes() for i in range(ids.shape[0])]

    def pooled(self, net, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The batch's sentence vectors; rows never seen go through `net`'s encoder."""
        key = self.key_for(net, input_ids.device)
        if key != self.key:
            self.open(key)
        keys = self.row_keys(input_ids, attention_mask)
        if net.training:  # a training batch (evaluation runs with the module in eval mode)
            self.training_rows.update(keys)
        first: dict[bytes, int] = {}
        for i, row_key in enumerate(keys):
            first.setdefault(row_key, i)
        rows = [i for row_key, i in first.items() if row_key not in self.vectors]
        if rows:
            index = torch.tensor(rows, device=input_ids.device)
            with torch.no_grad():
                mask = attention_mask[index]
                vectors = pool(net.encode_tokens(input_ids[index], mask), mask, net.pooling)
            for row, vector in zip(rows, vectors, strict=True):
                self.vectors[keys[row]] = vector.detach().float().cpu()
        self.computed += len(rows)
        self.reused += len(keys) - len(rows)
        stacked = torch.stack([self.vectors[row_key] for row_key in keys])
        return stacked.to(device=input_ids.device)

    def save(self) -> None:
        """The training rows, merged into the file (another run may have added rows
        meanwhile), atomically, with the key beside the vectors."""
        if self.path is None or len(self.training_rows) == self.on_disk:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
            for row_key, vector in zip(saved["keys"], saved["vectors"], strict=True):
                self.vectors.setdefault(row_key, vector)
                self.training_rows.add(row_key)
        keys = [k for k in self.vectors if k in self.training_rows]
        handle, staging = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
        with open(handle, "wb") as out:
            torch.save({"keys": keys, "vectors": torch.stack([self.vectors[k] for k in keys]),
                        "key": self.key}, out)  # fmt: skip
        Path(staging).replace(self.path)
        self.on_disk = len(self.training_rows)

    def stats(self) -> dict[str, float]:
        return {"features/computed": float(self.computed), "features/reused": float(self.reused),
                "features/loaded": float(self.loaded)}  # fmt: skip
