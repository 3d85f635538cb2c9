"""Trained weights stored compactly in a model folder, and read back.

`fp16` halves the file; `int8` keeps each weight matrix as int8 with one fp32 scale per output
row (weight-only absmax quantisation, about a quarter of fp32). Both are expanded to fp32 when
the folder loads, so the model then computes as its run evaluated (fp32 or bf16 autocast): only
the stored values are rounded. Vectors (biases, LayerNorm) and the heads stay fp32.
"""

from __future__ import annotations

import torch

FORMS = ("fp32", "fp16", "int8")
SCALE_SUFFIX = "::scale"  # key of an int8 matrix's per-row scales
EXACT_PREFIXES = ("head.", "language_heads.")  # what turns hidden states into labels: kept


def _compressible(name: str, tensor: torch.Tensor) -> bool:
    return tensor.ndim == 2 and tensor.is_floating_point() and not name.startswith(EXACT_PREFIXES)


def int8_rows(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 values, fp32 scale per row): row * scale recovers it to half a step."""
    scale = matrix.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    values = torch.round(matrix / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return values.contiguous(), scale.float().contiguous()


def compact(weights: dict[str, torch.Tensor], form: str) -> dict[str, torch.Tensor]:
    """`weights` (fp32) as stored in the given form (one of FORMS)."""
    if form not in FORMS:
        raise ValueError(f"model weights form {form!r}: use one of {', '.join(FORMS)}")
    if form == "fp32":
        return weights
    stored: dict[str, torch.Tensor] = {}
    for name, tensor in weights.items():
        if not _compressible(name, tensor):
            stored[name] = tensor
        elif form == "fp16":
            stored[name] = tensor.half().contiguous()
        else:
            stored[name], stored[name + SCALE_SUFFIX] = int8_rows(tensor)
    return stored


def expanded(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The fp32 weights back from any stored form."""
    weights: dict[str, torch.Tensor] = {}
    for name, tensor in stored.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = stored.get(name + SCALE_SUFFIX)
        if scale is not None:
            weights[name] = tensor.float() * scale[:, None]
        else:
            weights[name] = tensor.float() if tensor.is_floating_point() else tensor
    return weights
