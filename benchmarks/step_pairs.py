"""Paired step timing: two variants of xlt's default training step take turns on the same
batches (A then B on one batch, B then A on the next), so the machine's drift, which moves
whole runs by 10-30% here, cancels out. Resolves gains of a few percent that alternating whole
runs (train_throughput.py) cannot.

    .venv/bin/python benchmarks/step_pairs.py --compare dropout   # fast dropout vs torch's
    .venv/bin/python benchmarks/step_pairs.py --compare compile   # torch.compile vs eager
    .venv/bin/python benchmarks/step_pairs.py --compare compile --bf16   # both under autocast
    .venv/bin/python benchmarks/step_pairs.py --compare compile --bf16 --no-dropout
        # every dropout at p=0 on both sides: inductor's fusion without its random numbers
    .venv/bin/python benchmarks/step_pairs.py --compare compile --static 16 [--mode max-autotune]
        # static shapes: every batch padded to a multiple of 16 tokens for both variants (the
        # compiler's own gain; the padding's cost is not in the ratio), one graph per length
    .venv/bin/python benchmarks/step_pairs.py --compare fused_qkv --bf16   # stock Q/K/V vs fused
        # (it fuses under autocast only: without --bf16 both variants run the stock forward)
    .venv/bin/python benchmarks/step_pairs.py --compare cpu_attention [--bf16]   # SDPA vs xlt_cpu
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import build_training, table

from xlt.strategies.base import Stage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--compare", choices=["dropout", "compile", "fused_qkv", "cpu_attention"], default="dropout"
    )
    parser.add_argument("--pairs", type=int, default=80)
    parser.add_argument("--bf16", action="store_true", help="both under bf16 autocast")
    parser.add_argument(
        "--static",
        type=int,
        default=0,
        metavar="MULTIPLE",
        help="pad batches to a multiple of this many tokens; compile static shapes",
    )
    parser.add_argument("--mode", default=None, help="torch.compile mode, e.g. max-autotune")
    parser.add_argument("--no-dropout", action="store_true", help="every dropout at p=0")
    args = parser.parse_args()
    from xlt.models.cpu_attention import use_cpu_attention
    from xlt.models.fast_dropout import FastDropout
    from xlt_serving.fused_qkv import use_fused_qkv

    _, bundle, task, strategy, net, dm = build_training(fast_dropout=False)
    optimizer = strategy.optimizer(strategy.optimizer_groups(net, Stage()))
    pad_id = bundle.tokenizer.pad_token_id
    batches = [pad_to_multiple(b, args.static, pad_id) for b in dm.train_dataloader()]
    dropouts = [m for m in net.modules() if type(m) is torch.nn.Dropout]
    for module in dropouts if args.no_dropout else ():  # attention's dropout reads its p too
        module.p = 0.0
    eager = net.encoder
    dynamic = not args.static
    compiled = (
        torch.compile(eager, dynamic=dynamic, mode=args.mode) if args.compare == "compile" else None
    )
    # B is xlt's default (eager, fast dropout); A is what it is compared with.
    a_name = {
        "dropout": "torch's dropout",
        "compile": f"torch.compile ({'no dropout' if args.no_dropout else 'its own dropout'})",
        "fused_qkv": "stock Q, K, V projections (three matmuls a layer)",
        "cpu_attention": "transformers' SDPA attention",
    }[args.compare]

    def use(variant: str) -> None:
        fast = variant == "B" or args.compare in ("fused_qkv", "cpu_attention")
        if args.compare == "fused_qkv":
            use_fused_qkv(eager, fused=variant == "B")
        # compile=true leaves attention to inductor (SDPA), as build_net does
        use_cpu_attention(
            eager, enabled=variant == "B" or args.compare not in ("cpu_attention", "compile")
        )
        for m in dropouts:  # same p, same (no) state: only the mask generation differs
            m.__class__ = FastDropout if fast else torch.nn.Dropout
        net.encoder = compiled if (variant == "A" and compiled is not None) else eager

    def step(batch: dict) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = task.loss(net, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - start

    warm_up = {}
    first = batches[:2] if dynamic else list({b["input_ids"].shape: b for b in batches}.values())
    for variant in ("A", "B"):  # compiling happens here (every length, if static), timed apart
        use(variant)
        warm_up[variant] = sum(step(b) for b in first)
    times: dict[str, list[float]] = {"A": [], "B": []}
    for i in range(args.pairs):
        batch = batches[2 + i % (len(batches) - 2)]
        for variant in ("A", "B") if i % 2 == 0 else ("B", "A"):
            use(variant)
            times[variant].append(step(batch))
    ratio = statistics.median(a / b for a, b in zip(times["A"], times["B"], strict=True))
    b_name = "all three opt-in kernels (eager, fast dropout, fused Q/K/V, xlt_cpu attention)"
    rows = [{"variant": name, "median step (ms)": statistics.median(times[v]) * 1e3,
             "warm-up steps (s)": warm_up[v]}
            for v, name in (("A", a_name), ("B", b_name))]  # fmt: skip
    shapes = f"padded to x{args.static}, static" if args.static else "dynamic shapes"
    table(rows, f"{args.pairs} paired steps, me5_small, HSK topic EN, batch 32, "
                f"{'bf16' if args.bf16 else 'fp32'}, {shapes}, mode {args.mode}, "
                f"{'no dropout' if args.no_dropout else 'dropout'}; median per-pair "
                f"ratio A / B = {ratio:.3f} (> 1: xlt's default is faster)")  # fmt: skip


def pad_to_multiple(batch: dict, multiple: int, pad_id: int) -> dict:
    """The batch with its token columns padded (mask 0) to a multiple of `multiple` tokens."""
    if not multiple:
        return batch
    length = batch["input_ids"].shape[1]
    extra = -length % multiple
    padded = dict(batch)
    padded["input_ids"] = torch.nn.functional.pad(batch["input_ids"], (0, extra), value=pad_id)
    padded["attention_mask"] = torch.nn.functional.pad(batch["attention_mask"], (0, extra))
    return padded


if __name__ == "__main__":
    main()
