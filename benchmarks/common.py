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
    from xlt.train import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=list(overrides))
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(ROOT / "outputs" / "benchmarks")
    return cfg


def build_training(
    freeze_embeddings: bool = True, length_grouped: bool = True, fast_dropout: bool = True
):
    """xlt's pieces for me5_small on HSK topic (EN train), as the pipeline builds them:
    (config, encoder bundle, task, strategy, network, set-up datamodule)."""
    import lightning as L

    from xlt.config.validate import build
    from xlt.data.datamodule import TransferDataModule
    from xlt.models.fast_dropout import use_fast_dropout
    from xlt.tasks import get_task

    cfg = compose(f"model.freeze_embeddings={freeze_embeddings}")
    L.seed_everything(0)
    data = build(cfg.dataset.loader, "dataset.loader")
    bundle = build(cfg.model.source, "model.source")
    task, strategy = get_task("classification"), build(cfg.strategy, "strategy")
    strategy.check(data, "en", ["zh"])
    net = task.build_net(bundle.encoder, len(data.label_names), cfg.model)
    strategy.prepare(net)
    if fast_dropout:
        use_fast_dropout(net)
    dm = TransferDataModule(
        data, bundle.tokenizer, strategy, task=task, source_lang="en", target_langs=["zh"],
        max_length=128, text_prefix=cfg.model.text_prefix, batch_size=32, eval_batch_size=128,
        num_workers=0, limit=None, cache_dir=cfg.paths.cache_dir, seed=0,
        length_grouped=length_grouped,
    )  # fmt: skip
    dm.setup("fit")
    return cfg, bundle, task, strategy, net, dm


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


def table(rows: list[dict], title: str) -> str:
    import pandas as pd

    text = f"\n{title}\n" + pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g")
    print(text)
    return text
