"""Which precision a run trains and evaluates in: `trainer.precision=auto` (the default) picks
bf16 autocast where the hardware has bf16 units and fp32 elsewhere; an explicit value wins."""

from __future__ import annotations

import logging

import torch
from omegaconf import DictConfig

from xlt_serving.precision import cpu_has_bf16_units

log = logging.getLogger(__name__)
AUTO = "auto"
__all__ = ["AUTO", "cpu_has_bf16_units", "resolve_precision", "trainer_precision",
           "warn_if_slow_precision"]  # fmt: skip


def runs_on_cpu(cfg: DictConfig) -> bool:
    accelerator = cfg.trainer.accelerator
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def fastest_precision(cfg: DictConfig) -> str:
    """bf16-mixed on a CPU with AMX / AVX512-BF16 (1.5x faster end to end here, same 3-seed
    accuracy: README, Speed) or a GPU that supports bf16; 32-true elsewhere."""
    if runs_on_cpu(cfg):
        return "bf16-mixed" if cpu_has_bf16_units() else "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"


def trainer_precision(cfg: DictConfig) -> str:
    """cfg.trainer.precision with `auto` resolved for this machine (without changing cfg)."""
    precision = str(cfg.trainer.precision)
    return fastest_precision(cfg) if precision == AUTO else precision


def resolve_precision(cfg: DictConfig) -> bool:
    """Replace `auto` in cfg.trainer.precision by this machine's choice (before anything
    records the config); True when it was chosen here, for the run's tags."""
    if str(cfg.trainer.precision) != AUTO:
        return False
    cfg.trainer.precision = fastest_precision(cfg)
    log.info("trainer.precision=auto: %s on this machine (trainer.precision=32-true forces fp32)",
             cfg.trainer.precision)  # fmt: skip
    return True


def warn_if_slow_precision(cfg: DictConfig) -> None:
    if (
        runs_on_cpu(cfg)
        and str(cfg.trainer.precision).startswith("bf16")
        and not cpu_has_bf16_units()
    ):
        log.warning(
            "trainer.precision=%s on a CPU without bf16 units (AMX / AVX512-BF16): slower than "
            "fp32 here; use trainer.precision=auto or 32-true", cfg.trainer.precision,
        )  # fmt: skip
