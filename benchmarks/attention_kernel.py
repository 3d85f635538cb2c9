"""One attention layer at me5_small's shapes (12 heads of 32), the three implementations
alternating on the same tensors: transformers' SDPA (its default), its eager attention, and
xlt's "xlt_cpu" (xlt/models/cpu_attention.py). Training: forward and backward with dropout 0.1
at batch 32; inference: forward under `inference_mode` at batch 128 (evaluation's size), where
xlt_cpu is not used (it hands no-grad calls to SDPA) and is timed by calling it directly.

    .venv/bin/python benchmarks/attention_kernel.py [--lengths 8 13 24 48 96 128] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import table
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.models.bert.modeling_bert import eager_attention_forward

from xlt.models import cpu_attention

HEADS, HEAD_SIZE = 12, 32


class _Layer(nn.Module):
    is_causal = False


def _inputs(batch: int, length: int, grad: bool) -> tuple[list[torch.Tensor], torch.Tensor]:
    """q, k, v and transformers' bool mask with the last 3 keys padded in a third of the rows."""
    qkv = [torch.randn(batch, HEADS, length, HEAD_SIZE, requires_grad=grad) for _ in range(3)]
    mask = torch.ones(batch, 1, length, length, dtype=torch.bool)
    mask[: batch // 3, ..., -3:] = False
    return qkv, mask


def _mask_for(kernel, mask: torch.Tensor) -> torch.Tensor:
    """Eager takes an additive mask, which transformers builds once per forward, not per layer:
    converted here outside the timing, so eager is not charged for it."""
    if kernel is not eager_attention_forward:
        return mask
    return torch.zeros(mask.shape).masked_fill_(~mask, torch.finfo(torch.float32).min)


def _call(kernel, qkv, mask, bf16: bool, dropout: float) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        q, k, v = (x.to(torch.bfloat16) if bf16 else x for x in qkv)
        out, _ = kernel(_Layer().train(dropout > 0), q, k, v, mask, dropout=dropout,
                        scaling=HEAD_SIZE**-0.5)  # fmt: skip
    return out


def _medians_us(kernels: dict, length: int, bf16: bool, train: bool, repeats: int) -> dict:
    """Median microseconds per kernel, the kernels taking turns on the same tensors."""
    qkv, bool_mask = _inputs(32 if train else 128, length, grad=train)
    masks = {name: _mask_for(kernel, bool_mask) for name, kernel in kernels.items()}
    times: dict[str, list[float]] = {name: [] for name in kernels}
    for i in range(repeats + 2):
        for name, kernel in kernels.items():
            start = time.perf_counter()
            if train:
                _call(kernel, qkv, masks[name], bf16, 0.1).float().sum().backward()
            else:
                with torch.inference_mode():
                    _call(kernel, qkv, masks[name], bf16, 0.0)
            if i >= 2:  # warm-up
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e6 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", type=int, nargs="+", default=[8, 13, 24, 48, 96, 128])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    cpu_attention.runs_here = lambda *a: True  # time the kernel itself, inference included
    kernels = {"sdpa": sdpa_attention_forward, "eager": eager_attention_forward,
               "xlt_cpu": cpu_attention.cpu_attention}  # fmt: skip
    rows = []
    for train in (True, False):
        for bf16 in (True, False):
            for length in args.lengths:
                us = _medians_us(kernels, length, bf16, train, args.repeats)
                rows.append({"pass": "train" if train else "inference",
                             "precision": "bf16" if bf16 else "fp32", "tokens": length,
                             **{f"{n} (us)": v for n, v in us.items()},
                             "sdpa / xlt_cpu": us["sdpa"] / us["xlt_cpu"],
                             "eager / xlt_cpu": us["eager"] / us["xlt_cpu"]})  # fmt: skip
    table(rows, f"One attention layer, {HEADS} heads x {HEAD_SIZE}, {torch.get_num_threads()} "
                f"threads, medians of {args.repeats}")  # fmt: skip


if __name__ == "__main__":
    main()
