"""Whether the precision asked for is fast on this machine."""

from __future__ import annotations

import logging

import torch
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def cpu_has_bf16_units() -> bool:
    """Intel AMX or AVX512-BF16: bf16 matmuls several times faster than fp32 (private torch
    helpers; False where they are missing)."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def warn_if_slow_precision(cfg: DictConfig) -> None:
    on_cpu = cfg.trainer.accelerator == "cpu" or (
        cfg.trainer.accelerator == "auto" and not torch.cuda.is_available()
    )
    if on_cpu and str(cfg.trainer.precision).startswith("bf16") and not cpu_has_bf16_units():
        log.warning(
            "trainer.precision=%s on a CPU without bf16 units (AMX / AVX512-BF16): slower than "
            "fp32 here; use trainer=default (32-true)", cfg.trainer.precision,
        )  # fmt: skip
