"""Evaluation throughput: sentences/s of the multi-language evaluation (HSK topic dev + test,
EN and ZH, me5_small forward passes, batch 128) in the data's own order and length-sorted (what
xlt does), alternating, in one process; in fp32 and, where the CPU has bf16 units, in bf16
autocast (what trainer.precision=auto picks there). "same round": the median of each round's
own ratio, which the machine's drift from round to round does not move.

    .venv/bin/python benchmarks/eval_throughput.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import compose, table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from datasets import concatenate_datasets

    from xlt.config.instantiate import instantiate_spec
    from xlt.data.collate import PadCollator
    from xlt.data.tokenize import sort_by_length, tokenize
    from xlt_serving.precision import cpu_has_bf16_units

    cfg = compose()
    data = instantiate_spec(cfg.dataset.loader, "dataset.loader")
    bundle = instantiate_spec(cfg.model.source, "model.source")
    encoder = bundle.encoder.eval()
    rows = [data.subset(split, lang, purpose="evaluation")
            for split in ("dev", "test") for lang in ("en", "zh")]  # fmt: skip
    sets = [tokenize(subset, bundle.tokenizer, max_length=128, text_prefix=cfg.model.text_prefix,
                     cache_dir=cfg.paths.cache_dir, key=[data.fingerprint, None, i])
            for i, subset in enumerate(rows)]  # fmt: skip
    naive = concatenate_datasets(sets).with_format(columns=["input_ids"])
    ordered = sort_by_length(concatenate_datasets(sets))
    fixed = [list(range(i, min(i + 128, len(naive)))) for i in range(0, len(naive), 128)]
    variants = {
        "data order, batch 128": (naive, fixed),
        "length-sorted, batch 128 (xlt)": (ordered.with_format(columns=["input_ids"]), fixed),
    }  # fmt: skip
    precisions = ["fp32", "bf16"] if cpu_has_bf16_units() else ["fp32"]
    runs = [(name, p) for p in precisions for name in variants]
    collate = PadCollator(bundle.tokenizer.pad_token_id)
    results: dict[tuple, list[float]] = {run: [] for run in runs}
    padded: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, precision in runs:
            ds, batches = variants[name]
            start, cells = time.perf_counter(), 0
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16,
                                                         enabled=precision == "bf16"):  # fmt: skip
                for rows in batches:
                    batch = collate([ds[j] for j in rows])
                    encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
                    cells += batch["input_ids"].numel()
            results[(name, precision)].append(len(ds) / (time.perf_counter() - start))
            padded[name] = cells
    base_runs = results[("data order, batch 128", "fp32")]
    base = statistics.median(base_runs)
    rows = [{"batches": name, "precision": p, "sentences/s": statistics.median(v),
             "vs data order fp32": statistics.median(v) / base,
             "same round": statistics.median(a / b for a, b in zip(v, base_runs, strict=True)),
             "batches n": len(variants[name][1]), "token cells incl. padding": padded[name]}
            for (name, p), v in results.items()]  # fmt: skip
    table(rows, f"Evaluation, {len(naive)} sentences (dev+test, EN+ZH), me5_small, "
                f"median of {args.rounds} rounds")  # fmt: skip


if __name__ == "__main__":
    main()
