"""Shared by the benchmark scripts: a composed xlt config, timers, the machine's matmul peak."""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import open_dict

    import xlt.config  # noqa: F401
    from xlt.config.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=list(overrides))
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(ROOT / "outputs" / "benchmarks")
    return cfg


def build_training(
    freeze_embeddings: bool = True,
    length_grouped: bool = True,
    fast_dropout: bool = False,
    fused_qkv: bool = False,
    cpu_attention: bool = False,
):
    """xlt's pieces for me5_small on HSK topic (EN train), made by the pipeline's own `build`:
    (config, encoder bundle, task, strategy, network, set-up datamodule)."""
    from xlt.components import build, prepare
    from xlt.config.instantiate import instantiate_spec

    cfg = compose(f"model.freeze_embeddings={freeze_embeddings}",
                  f"dataset.length_grouped={length_grouped}",
                  f"model.fast_dropout={fast_dropout}", f"model.fused_qkv={fused_qkv}",
                  f"model.cpu_attention={cpu_attention}")  # fmt: skip
    bundle = instantiate_spec(cfg.model.source, "model.source")
    parts = prepare(build(cfg, bundle=bundle))
    return cfg, bundle, parts.task, parts.strategy, parts.net, parts.datamodule


def matmul_peak_flops(size: int = 2048, repeats: int = 10, dtype=None) -> float:
    """Dense matmul FLOP/s on this machine, now (best of `repeats`); fp32 unless `dtype`."""
    import torch

    dtype = dtype or torch.float32
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def timed_pipeline_run(root: Path, *overrides: str) -> tuple[float, dict]:
    """One whole `xlt.pipeline.run` (fit, dev, test) against its own store under `root`:
    (wall seconds, test metrics); no progress bar, no logged model."""
    from omegaconf import open_dict

    from xlt.pipeline import run

    cfg = compose("trainer.enable_progress_bar=false", "logger.log_model=false", *overrides)
    with open_dict(cfg):
        cfg.paths.root_dir = str(root)
        cfg.paths.output_dir = str(root / "runs" / str(time.time_ns()))
    start = time.perf_counter()
    results = run(cfg)
    return time.perf_counter() - start, results["test"]


def memory_mib(field: str = "VmHWM") -> float:
    """This process's resident memory from /proc/self/status: `VmHWM` (its peak) or `VmRSS`
    (now). Not `ru_maxrss`: Linux carries that over fork and exec, so a child started by a
    bigger process reports its parent's peak."""
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith(field)) / 1024


def table(rows: list[dict], title: str) -> str:
    import pandas as pd

    text = f"\n{title}\n" + pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g")
    print(text)
    return text
