"""What every hub loader shares: loading one config (offline: fail fast; a local folder: a
prepared copy per version of its files) and turning a hub table into xlt's columns without a
Python object per row (renames, `id`/`lang` by Arrow compute; the rest stays memory-mapped)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from xlt.errors import DataError
from xlt.hub import load_from_hub

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


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


def load_config(
    path: str, config: str, revision: str | None, files: str | None, offline_alternative: str
) -> DatasetDict:
    """`load_dataset(path, config)`; `files`: the local folder's `local_files_key`."""
    import datasets

    cache = Path(datasets.config.HF_DATASETS_CACHE) / "xlt-local" / files if files else None
    return load_from_hub(
        "dataset",
        f"{path}/{config}",
        offline_alternative,
        lambda: datasets.load_dataset(
            path, config, revision=revision, cache_dir=str(cache) if cache else None
        ),  # fmt: skip
    )


def standardise(
    ds: Dataset, columns: dict[str, str], lang: str, tag: str, id_column: str | None = None
) -> Dataset:
    """xlt's column names, plus `id` (`{tag}-{row}`, or `{tag}-{id_column}`) and `lang`, built
    by Arrow compute: the result still reads the memory-mapped file for every original column.
    Class labels become plain integers, as in local data."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    from datasets import List, Value

    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise DataError(f"{tag}/{lang}: no column(s) {missing}; it has {ds.column_names}")
    ds = ds.select_columns(list(columns)).rename_columns(
        {old: new for old, new in columns.items() if old != new}
    )
    if "label" in ds.column_names and ds.features["label"] != Value("int64"):
        ds = ds.cast_column("label", Value("int64"))
    if "tags" in ds.column_names and ds.features["tags"] != List(Value("int64")):
        ds = ds.cast_column("tags", List(Value("int64")))
    if id_column is not None:
        rows = pc.cast(ds.data.column(id_column), pa.string())
    else:
        rows = pc.cast(pa.array(np.arange(len(ds))), pa.string())
    ids = pc.binary_join_element_wise(f"{tag}-", rows, "")
    if "id" in ds.column_names:
        ds = ds.remove_columns("id")
    ds = ds.add_column("id", ids, new_fingerprint=_derived(ds, "id", tag))
    return ds.add_column("lang", pa.repeat(lang, len(ds)), new_fingerprint=_derived(ds, lang))


def _derived(ds: Dataset, *parts: str) -> str:
    return content_fingerprint(ds._fingerprint, *parts)


def content_fingerprint(*parts) -> str:
    """The hub loaders' fingerprints: a hash of what identifies the data (JSON-able parts)."""
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:16]
