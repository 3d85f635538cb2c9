"""Where a training step's time goes: torch.profiler over a few me5_small training steps
(batch 32, HSK topic, frozen embeddings), top operators by self CPU time.

    .venv/bin/python benchmarks/profile_step.py [--steps 6] [--bf16]
"""

from __future__ import annotations

import argparse

from common import build_training, table

from xlt.strategies.base import Stage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--bf16", action="store_true", help="under bf16 autocast, as cpu_bf16")
    args = parser.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    _, _, task, strategy, net, dm = build_training()
    optimizer = strategy.optimizer(strategy.optimizer_groups(net, Stage()))  # fused AdamW
    batches = iter(dm.train_dataloader())

    def step(batch: dict) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = task.loss(net, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step(next(batches))  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step(next(batches))
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    rows = [{"operator": e.key, "self CPU ms / step": e.self_cpu_time_total / 1e3 / args.steps,
             "share": e.self_cpu_time_total / total, "calls / step": e.count / args.steps}
            for e in events[:16]]  # fmt: skip
    table(
        rows,
        f"One training step, me5_small, batch 32, {'bf16' if args.bf16 else 'fp32'} "
        f"({args.steps} steps profiled)",
    )


if __name__ == "__main__":
    main()
