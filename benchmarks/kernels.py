"""Are xlt's custom CPU kernels worth their code? The default run's training step (me5_small,
HSK topic, batch 32, frozen embeddings, length-grouped, fused AdamW, clipping 1.0: exactly
`xlt-train`'s default) with transformers' stock paths and with each custom kernel switched on:
`model.fast_dropout` (16-bit random draws for dropout masks), `model.fused_qkv` (one Q/K/V
matmul under autocast) and `model.cpu_attention` (xlt's own attention in training steps).
Variants alternate within each round in one process; the figure is the median over rounds.

A kernel stays on by default only if it makes the default run >= 10% faster on both CPU kinds
(AVX-512/AMX with bf16 autocast, and AVX2-only in fp32). Training steps are the largest part of
a default run, so a step speed-up under 10% cannot make the whole run 10% faster.

    .venv/bin/python benchmarks/kernels.py [--steps 30] [--rounds 3] [--precision bf16-mixed]

`--isa avx2` restarts the measurement with torch's and oneDNN's kernels limited to AVX2
(ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2): the AVX2-only kind's code paths on this
CPU, not an AVX2-only machine's memory system or clock.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from common import table
from train_throughput import xlt_run

KERNELS = ("fast_dropout", "fused_qkv", "cpu_attention")
VARIANTS = {
    "stock paths (all three off)": {},
    "all three on (xlt's former default)": dict.fromkeys(KERNELS, True),
    **{f"only {name}": {name: True} for name in KERNELS},
}


def measure(steps: int, rounds: int, precision: str) -> dict[str, list[float]]:
    """examples/s of each variant, `rounds` times, alternating."""
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, on in VARIANTS.items():
            flags = {kernel: on.get(kernel, False) for kernel in KERNELS}
            run = xlt_run(steps, precision=precision, **flags)
            results[name].append(run["examples"] / run["seconds"])
    return results


def rows(results: dict[str, list[float]]) -> list[dict]:
    stock = statistics.median(results["stock paths (all three off)"])
    return [{"variant": name, "examples/s": f"{statistics.median(v):.1f}",
             "rounds": " / ".join(f"{x:.1f}" for x in v),
             "vs stock": f"{statistics.median(v) / stock:.3f}x"}
            for name, v in results.items()]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", default="bf16-mixed", help="bf16-mixed or 32-true")
    parser.add_argument("--isa", choices=["native", "avx2"], default="native")
    args = parser.parse_args()
    if args.isa == "avx2" and os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
        env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, ISA "
          f"{torch.backends.cpu.get_cpu_capability()}, precision {args.precision}")  # fmt: skip
    table(rows(measure(args.steps, args.rounds, args.precision)), "training examples/s")


if __name__ == "__main__":
    main()
