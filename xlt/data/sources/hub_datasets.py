"""Hub-backed benchmarks (XNLI, PAWS-X): the real `load_dataset` calls, per language config.

The rows stay in the memory-mapped Arrow files `datasets` prepared (renaming, selecting and
adding the `id`/`lang` columns are Arrow operations, never a Python object per row), so XNLI's
15 x 393k training pairs cost disk, not memory; the fingerprint is the loaded tables' own
(`datasets` derives it from the hub revision; for a local folder, the files' sizes and times
count too), so changed data is new data.
`load_dataset` on a local folder works offline: a user's own dataset in the hub layout (one
config per language) goes through this same code. Offline, a hub path fails within seconds
with a message pointing at the offline datasets.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from xlt.hub import load_from_hub
from xlt.hub import preflight as hub_preflight

if TYPE_CHECKING:  # `xlt-train` runs `preflight` before the heavy imports
    from datasets import Dataset

    from xlt.data.transfer_data import TransferData

OFFLINE_ALTERNATIVE = "dataset=hsk_topic (EN/ZH, bundled) or dataset=local with your own files"
SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def load_hub_classification(
    path: str,
    languages: list[str],
    label_names: list[str],
    text_column: str,
    text_pair_column: str | None = None,
    label_column: str = "label",
    split_names: dict[str, str] | None = None,
    revision: str | None = None,
) -> TransferData:
    """One hub config per language (`load_dataset(path, lang)`); its splits become train, dev
    and test (a split a language does not have is skipped: XNLI-style test-only languages)."""
    from datasets import concatenate_datasets

    from xlt.data.transfer_data import TransferData

    split_names, languages = dict(split_names or SPLITS), list(languages)
    columns = {text_column: "text", label_column: "label"}
    if text_pair_column:
        columns[text_pair_column] = "text_pair"
    parts: dict[str, list[Dataset]] = {split: [] for split in split_names}
    files = local_files_key(path)
    for lang in languages:
        loaded = _load_config(path, lang, revision, files)
        for split, hub_split in split_names.items():
            if hub_split in loaded:
                parts[split].append(standardise(loaded[hub_split], columns, lang, hub_split))
    fingerprints = [ds._fingerprint for p in parts.values() for ds in p]
    key = json.dumps([path, revision, files, languages, columns, split_names, fingerprints])
    return TransferData(
        splits={s: concatenate_datasets(p) for s, p in parts.items() if p},
        label_names=list(label_names),
        fingerprint=hashlib.sha256(key.encode()).hexdigest()[:16],
        has_text_pair=text_pair_column is not None,
        info={"source": f"hub:{path}", **({"revision": revision} if revision else {})},
    )


def local_files_key(path: str) -> str | None:
    """A local folder's files by name, size and modification time. `datasets` keys its
    prepared copy of a local folder by the file names alone and would serve the old rows after
    an edit; a prepared copy per version of the files cannot."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return None
    files = [f for f in folder.rglob("*") if f.is_file() and ".cache" not in f.parts]
    stats = sorted((str(f.relative_to(folder)), f.stat().st_size, f.stat().st_mtime_ns)
                   for f in files)  # fmt: skip
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


def _load_config(path: str, config: str, revision: str | None, files: str | None):
    import datasets

    cache = Path(datasets.config.HF_DATASETS_CACHE) / "xlt-local" / files if files else None
    return load_from_hub(
        "dataset",
        f"{path}/{config}",
        OFFLINE_ALTERNATIVE,
        lambda: datasets.load_dataset(
            path, config, revision=revision, cache_dir=str(cache) if cache else None
        ),  # fmt: skip
    )


def standardise(ds: Dataset, columns: dict[str, str], lang: str, tag: str) -> Dataset:
    """xlt's column names, plus `id` (`{tag}-{row}`) and `lang`, built by Arrow compute: the
    result still reads the hub's memory-mapped file for every original column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    from datasets import Value

    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        from xlt.errors import DataError

        raise DataError(f"{tag}/{lang}: no column(s) {missing}; it has {ds.column_names}")
    ds = ds.select_columns(list(columns)).rename_columns(
        {old: new for old, new in columns.items() if old != new}
    )
    if ds.features["label"] != Value("int64"):  # a ClassLabel: plain integers, as local data
        ds = ds.cast_column("label", Value("int64"))
    rows = pc.cast(pa.array(np.arange(len(ds))), pa.string())
    ids = pc.binary_join_element_wise(f"{tag}-", rows, "")
    ds = ds.add_column("id", ids, new_fingerprint=_derived(ds, "id", tag))
    return ds.add_column("lang", pa.repeat(lang, len(ds)), new_fingerprint=_derived(ds, lang))


def _derived(ds: Dataset, *parts: str) -> str:
    return hashlib.sha256(json.dumps([ds._fingerprint, *parts]).encode()).hexdigest()[:16]


def preflight(path: str, **_: object) -> None:
    """Called by `xlt-train` before anything heavy: a hub dataset that cannot load fails now."""
    hub_preflight("dataset", path, OFFLINE_ALTERNATIVE)
