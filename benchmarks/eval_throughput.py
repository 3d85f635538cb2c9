"""Evaluation throughput: sentences/s of the multi-language evaluation (HSK topic dev + test,
EN and ZH, me5_small forward passes, batch 128) with length-sorted batches (what xlt does) vs
the data's own order, alternating, in one process.

    .venv/bin/python benchmarks/eval_throughput.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import compose, table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from datasets import concatenate_datasets

    from xlt.config.validate import build
    from xlt.data.collate import PadCollator
    from xlt.data.tokenize import sort_by_length, tokenize

    cfg = compose()
    data = build(cfg.dataset.loader, "dataset.loader")
    bundle = build(cfg.model.source, "model.source")
    encoder = bundle.encoder.eval()
    rows = [data.subset(split, lang, purpose="evaluation")
            for split in ("dev", "test") for lang in ("en", "zh")]  # fmt: skip
    sets = [tokenize(subset, bundle.tokenizer, max_length=128, text_prefix=cfg.model.text_prefix,
                     cache_dir=cfg.paths.cache_dir, key=[data.fingerprint, None, i])
            for i, subset in enumerate(rows)]  # fmt: skip
    naive = concatenate_datasets(sets).with_format(columns=["input_ids"])
    orders = {"data order": naive, "length-sorted (xlt)": sort_by_length(concatenate_datasets(sets))
              .with_format(columns=["input_ids"])}  # fmt: skip
    collate = PadCollator(bundle.tokenizer.pad_token_id)
    results: dict[str, list[float]] = {name: [] for name in orders}
    padded: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, ds in orders.items():
            start, cells = time.perf_counter(), 0
            with torch.inference_mode():
                for i in range(0, len(ds), 128):
                    batch = collate([ds[j] for j in range(i, min(i + 128, len(ds)))])
                    encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
                    cells += batch["input_ids"].numel()
            results[name].append(len(ds) / (time.perf_counter() - start))
            padded[name] = cells
    base = sum(results["data order"]) / args.rounds
    rows = [{"order": name, "sentences/s": sum(v) / len(v), "vs data order": sum(v) / len(v) / base,
             "token cells incl. padding": padded[name]} for name, v in results.items()]  # fmt: skip
    table(rows, f"Evaluation, {len(naive)} sentences (dev+test, EN+ZH), me5_small, batch 128")


if __name__ == "__main__":
    main()
