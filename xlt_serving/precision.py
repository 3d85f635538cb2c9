"""Whether bf16 is fast on this CPU (shared by training and prediction)."""

from __future__ import annotations

import torch


def cpu_has_bf16_units() -> bool:
    """Intel AMX or AVX512-BF16: bf16 matmuls several times faster than fp32 (private torch
    helpers; False where they are missing)."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
