"""Which precision a run trains and evaluates in: `trainer.precision=auto` (the default) picks
bf16 autocast where the hardware has bf16 units and fp32 elsewhere; an explicit value wins."""

from __future__ import annotations

import logging

import torch

from xlt.errors import ConfigError
from xlt_serving.precision import cpu_has_bf16_units

log = logging.getLogger(__name__)
AUTO = "auto"
__all__ = ["AUTO", "cpu_has_bf16_units", "trainer_precision", "warn_if_slow_precision"]


def runs_on_cpu(accelerator: str) -> bool:
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def fastest_precision(accelerator: str) -> str:
    """bf16-mixed on a CPU with AMX / AVX512-BF16 (1.5x faster end to end here, same 3-seed
    accuracy: README, Speed) or a GPU that supports bf16; 32-true elsewhere."""
    if runs_on_cpu(accelerator):
        return "bf16-mixed" if cpu_has_bf16_units() else "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"


def trainer_precision(precision: str, accelerator: str) -> str:
    """`trainer.precision` with `auto` resolved for this machine."""
    return fastest_precision(accelerator) if str(precision) == AUTO else str(precision)


def warn_if_slow_precision(precision: str, accelerator: str) -> None:
    if runs_on_cpu(accelerator) and str(precision).startswith("bf16") and not cpu_has_bf16_units():
        log.warning(
            "trainer.precision=%s on a CPU without bf16 units (AMX / AVX512-BF16): slower than "
            "fp32 here; use trainer.precision=auto or 32-true", precision,
        )  # fmt: skip


def check_accelerator(accelerator: str) -> None:
    """`trainer=gpu` where no GPU is visible: said before anything loads, with what to use
    instead (Lightning would say "No supported gpu backend found!" after the model loaded).
    Apart from xlt/config/validate.py's checks: a config is valid on machines it cannot run on
    here."""
    if accelerator not in ("gpu", "cuda"):
        return
    if not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator}: no CUDA GPU is visible here (torch "
            f"{torch.__version__}); on this machine use trainer=default (CPU, fp32) or "
            "trainer=cpu_bf16, or run on a machine with a GPU"
        )
