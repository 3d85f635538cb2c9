"""The served model's size, speed and accuracy per storage form and engine, side by side.

One trained model folder (fp32 weights; `make run` writes one) is stored again as fp16 and int8
(`logger.model_weights`), then each variant predicts HSK topic's test sentences (EN and ZH)
through `xlt_serving.runtime.TextModel` (what `xlt-predict` and the MLflow model run), batch 32,
length-sorted, alternating variants for `--rounds` rounds in one process. Reported: the
folder's size on disk, sentences/s (median) against torch fp32, test accuracy per language
against the fp32 folder's, and the share of labels unchanged.

    .venv/bin/python benchmarks/served_model.py [--model RUN_FOLDER/model] [--rounds 3]

Without --model, the default experiment is trained first (`xlt-train seed=0
logger.model_weights=fp32`, a few minutes) in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import compose, table

VARIANTS = {  # name: (stored weights, engine, precision)
    "fp32 weights, torch fp32 (baseline)": ("fp32", "torch", "fp32"),
    "fp32 weights, torch bf16 autocast": ("fp32", "torch", "bf16"),
    "int8 weights, torch fp32": ("int8", "torch", "fp32"),
    "int8 weights, torch bf16 autocast": ("int8", "torch", "bf16"),
    "fp16 weights, torch fp32": ("fp16", "torch", "fp32"),
    "fp16 weights, onnxruntime fp32": ("fp16", "onnx", "fp32"),
    "fp16 weights, onnxruntime int8": ("fp16", "onnx_int8", "fp32"),
    "int8 weights, onnxruntime int8": ("int8", "onnx_int8", "fp32"),
}


def stored_as(folder: Path, form: str, into: Path) -> Path:
    """A copy of the model folder with its weights stored in `form`."""
    from safetensors.torch import save_file

    from xlt_serving.bundle import WEIGHTS_FILE, ModelMeta, load_weights
    from xlt_serving.compact_weights import compact

    copy = into / form
    shutil.copytree(folder, copy)
    save_file(compact(load_weights(folder), form), str(copy / WEIGHTS_FILE))
    meta = ModelMeta.load(copy)
    meta.weights = form
    meta.save(copy)
    return copy


def trained_default(root: Path) -> Path:
    """The default experiment's model folder, trained now with fp32 weights (the reference)."""
    train = Path(sys.executable).with_name("xlt-train")
    subprocess.run([str(train), "seed=0", "logger.model_weights=fp32", f"hydra.run.dir={root}/run"],
                   env={**os.environ, "XLT_ROOT": str(root)}, cwd=root, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return root / "run" / "model"


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def test_rows() -> pd.DataFrame:
    from xlt.config.instantiate import instantiate_spec

    data = instantiate_spec(compose().dataset.loader, "dataset.loader")
    test = data.splits["test"]
    names = data.label_names
    return pd.DataFrame({"lang": test["lang"], "text": test["text"],
                         "gold": [names[i] for i in test["label"]]})  # fmt: skip


def accuracy(frame: pd.DataFrame, labels: list[str]) -> dict[str, float]:
    hit = frame.assign(hit=np.asarray(labels) == frame["gold"].to_numpy())
    return hit.groupby("lang")["hit"].mean().to_dict()


def measure(folders: dict[str, Path], frame: pd.DataFrame, rounds: int) -> dict:
    from xlt_serving.runtime import TextModel

    models, load_s = {}, {}
    for name, (form, engine, _) in VARIANTS.items():
        start = time.perf_counter()
        models[name] = TextModel(folders[form], engine=engine)
        load_s[name] = time.perf_counter() - start
    speed: dict[str, list[float]] = {name: [] for name in VARIANTS}
    labels: dict[str, list[str]] = {}
    for _ in range(rounds):
        for name, (_, _, precision) in VARIANTS.items():
            start = time.perf_counter()
            out = models[name].predict(frame[["text"]], batch_size=32, precision=precision)
            speed[name].append(len(frame) / (time.perf_counter() - start))
            labels[name] = list(out["label"])
    return {"speed": speed, "labels": labels, "load_s": load_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, help="a model folder with fp32 weights")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from xlt_serving.bundle import ModelMeta

    work = Path(tempfile.mkdtemp())
    model = args.model or trained_default(work)
    if ModelMeta.load(model).weights != "fp32":
        raise SystemExit(f"{model}: give a folder with fp32 weights (the reference)")
    folders = {form: stored_as(model, form, work / "stored") for form in ("fp32", "fp16", "int8")}
    frame = test_rows()
    got = measure(folders, frame, args.rounds)
    base_name = next(iter(VARIANTS))
    base_speed = statistics.median(got["speed"][base_name])
    base_labels = np.asarray(got["labels"][base_name])
    base_acc = accuracy(frame, got["labels"][base_name])
    rows = []
    for name, (form, _, _) in VARIANTS.items():
        acc = accuracy(frame, got["labels"][name])
        rows.append({"variant": name, "model files MB": round(folder_mb(folders[form]), 1),
                     "sentences/s": round(statistics.median(got["speed"][name])),
                     "vs baseline": statistics.median(got["speed"][name]) / base_speed,
                     **{f"acc {k}": v for k, v in acc.items()},
                     **{f"Δ {k}": acc[k] - base_acc[k] for k in acc},
                     "labels as baseline": float((np.asarray(got["labels"][name])
                                                  == base_labels).mean()),
                     "load s": round(got["load_s"][name], 1)})  # fmt: skip
    table(rows, f"served model {model}: {len(frame)} HSK test sentences, batch 32, "
                f"length-sorted, {args.rounds} alternating rounds")  # fmt: skip
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
