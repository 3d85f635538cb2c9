"""Hub data at XNLI's size, through the hub loader's own code: a generated dataset in the hub
layout (one config per language; English: 400k training pairs; 15 languages x 2.5k dev and 5k
test pairs) saved as a local Hugging Face dataset, loaded by `dataset=xnli
dataset.loader.path=FOLDER` (`load_dataset` on a local folder works offline) and prepared for
me5_small (read, tokenised, cached) as a run prepares it. Each phase runs in a fresh process:
the first run with empty caches, then the cached second run; peak memory is the process's
maximum resident set, and the Python-object peak is tracemalloc's during the load. The baseline
row is the earlier loader (every column copied into Python lists), on the same data.

    .venv/bin/python benchmarks/hub_data.py [--train 400000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from common import compose, memory_mib, table

LANGS = ["en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]


def generate(root: Path, n_train: int, n_dev: int = 2500, n_test: int = 5000) -> None:
    """Random word sequences with XNLI's shape: premise ~20 words, hypothesis ~10, 3 labels."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(5000)])

    def sentences(n: int, length: int) -> list[str]:
        ids = rng.integers(0, len(words), (n, length))
        return [" ".join(row) for row in words[ids]]

    readme = ["---", "configs:"]
    for lang in LANGS:
        readme.append(f"- config_name: {lang}\n  data_files:")
        sizes = {"train": n_train if lang == "en" else 0, "validation": n_dev, "test": n_test}
        for split, n in sizes.items():
            if not n:
                continue
            table_ = pa.table({"premise": sentences(n, 20), "hypothesis": sentences(n, 10),
                               "label": rng.integers(0, 3, n)})  # fmt: skip
            (root / lang).mkdir(parents=True, exist_ok=True)
            pq.write_table(table_, root / lang / f"{split}.parquet")
            readme.append(f"  - split: {split}\n    path: {lang}/{split}.parquet")
    (root / "README.md").write_text("\n".join([*readme, "---"]) + "\n")


def load_as_lists(path: str, languages: list[str], label_names: list[str], text_column: str,
                  text_pair_column: str, **_) -> object:  # fmt: skip
    """The loader before this change: every column of every split copied into Python lists
    (`to_pylist`: the code it had, `Dataset.from_dict({"text": ds["premise"], ...})`, indexes
    datasets 5's lazy columns row by row and had not finished one 400k split after 10 min)."""
    from datasets import Dataset, concatenate_datasets, load_dataset

    from xlt.data.dataset_splits import DatasetSplits

    parts: dict[str, list] = {"train": [], "dev": [], "test": []}
    for lang in languages:
        loaded = load_dataset(path, lang)
        for split, hub_split in {"train": "train", "dev": "validation", "test": "test"}.items():
            if hub_split not in loaded:
                continue
            ds = loaded[hub_split]
            column = ds.data.column
            parts[split].append(Dataset.from_dict({
                "id": [f"{hub_split}-{i}" for i in range(len(ds))],
                "text": column(text_column).to_pylist(),
                "text_pair": column(text_pair_column).to_pylist(),
                "label": column("label").to_pylist(), "lang": [lang] * len(ds)}))  # fmt: skip
    return DatasetSplits(
        splits={s: concatenate_datasets(p) for s, p in parts.items()},
        label_names=label_names,
        fingerprint="lists",
        has_text_pair=True,
    )


def prepare(data_dir: str, cache_dir: str, lists: bool) -> dict[str, float]:
    """One run's data preparation, timed: load, then the datamodule (tokenised, cached)."""
    from transformers import AutoTokenizer

    from xlt.components import build_data, build_datamodule
    from xlt.config.instantiate import instantiate_spec
    from xlt.models.sources.me5_offline import me5_small_folder

    model_folder = me5_small_folder(compose().paths.cache_dir)  # built by main(), not timed
    cfg = compose("dataset=xnli", f"dataset.loader.path={data_dir}", "model=me5_small",
                  f"paths.cache_dir={cache_dir}", "dataset.num_workers=0")  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    strategy, augmentation = (
        instantiate_spec(cfg.strategy, "strategy"),
        instantiate_spec(cfg.augmentation, "aug"),
    )
    if lists:
        cfg.dataset.loader._target_ = f"{__name__}.load_as_lists"
    before = memory_mib("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    data, task, source, targets = build_data(cfg)
    loaded = time.perf_counter()
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    build_datamodule(cfg, data, tokenizer, task, strategy, augmentation, source, targets).setup(
        "fit"
    )
    done = time.perf_counter()
    return {"load (s)": loaded - start, "tokenise (s)": done - loaded,
            "prepare (s)": done - start, "python objects peak (MB)": python_peak / 2**20,
            "RSS before (MB)": before,
            "peak RSS (MB)": memory_mib("VmHWM")}  # fmt: skip


def in_fresh_process(data_dir: str, caches: Path, lists: bool) -> dict[str, float]:
    env = {**os.environ, "HF_DATASETS_CACHE": str(caches / "hf")}
    args = [sys.executable, __file__, "--phase", data_dir, str(caches / "xlt")]
    out = subprocess.run([*args, *(["--lists"] if lists else [])], env=env, check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parent)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=400_000)
    parser.add_argument("--phase", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--lists", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(prepare(*args.phase, lists=args.lists)))
        return
    from xlt.models.sources.me5_offline import me5_small_folder

    me5_small_folder(compose().paths.cache_dir)  # the tokenizer's folder, once, before timing
    with tempfile.TemporaryDirectory(prefix="xlt-bench-hub-") as tmp:
        data_dir = Path(tmp) / "xnli_like"
        generate(data_dir, args.train)
        rows = []
        for name, lists in (("xlt hub loader", False), ("baseline: Python lists", True)):
            caches = Path(tmp) / name.split(":")[0].replace(" ", "_")
            for run in ("first (empty caches)", "second (cached)"):
                rows.append({"loader": name, "run": run,
                             **in_fresh_process(str(data_dir), caches, lists)})  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
    first, second = rows[0]["prepare (s)"], rows[1]["prepare (s)"]
    table(rows, f"hub data preparation, {args.train} English training pairs + 15 x 7.5k")
    print(f"\ncached second run / first run (xlt): {second / first:.3f}")


if __name__ == "__main__":
    main()
