"""The one shape every dataset source returns, whatever the files or hub look like."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from datasets import Dataset

from xlt.data.access import DataAccess, Purpose

SPLITS = ("train", "dev", "test")
# Columns of every split: `id` groups the translations of one item (same id across languages).
REQUIRED_COLUMNS = ("id", "text", "label", "lang")
# What a task's rows hold as their answer (classification, tagging, QA).
LABEL_COLUMNS = ("label", "tags", "answers")


def in_table_order(ds: Dataset) -> bool:
    """No index map (select with gaps, shuffle): row i is row i of the Arrow table. `datasets`
    keeps the map private; a slice or a table read from a file has none."""
    return getattr(ds, "_indices", None) is None


def column(ds: Dataset, name: str) -> np.ndarray:
    """One column as numpy through Arrow (no Python object per row: 10-100x faster)."""
    if in_table_order(ds):  # read the table itself
        return ds.data.column(name).to_numpy()
    return ds.with_format("arrow")[name].to_numpy(zero_copy_only=False)


def arrow_column(ds: Dataset, name: str):
    """One column as an Arrow array, without a Python object per row."""
    return ds.data.column(name) if in_table_order(ds) else ds.with_format("arrow")[name]


def column_digest(ds: Dataset, name: str = "id") -> str:
    """A hash of a whole column's values, for cache keys that must name the rows (a `datasets`
    column object prints as its first five values)."""
    import hashlib

    import pyarrow as pa

    sink = pa.BufferOutputStream()
    table = pa.table({name: arrow_column(ds, name)})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:24]


def rows_where(ds: Dataset, name: str, value: str) -> np.ndarray:
    """Positions of the rows whose `name` equals `value`, compared inside Arrow: a string
    column of millions of rows never becomes Python objects."""
    import pyarrow.compute as pc

    values = arrow_column(ds, name)
    return np.flatnonzero(pc.equal(values, value).to_numpy(zero_copy_only=False))


@dataclass
class DatasetSplits:
    splits: dict[str, Dataset]  # "train" / "dev" / "test", each with REQUIRED_COLUMNS
    label_names: list[str]
    fingerprint: str  # stable hash of the content and split: keys caches, logged with runs
    attribution: str = ""  # licence text that must travel with the data
    has_text_pair: bool = False
    info: dict[str, str] = field(default_factory=dict)
    # Gold word segmentation where the data has it (HSK): text -> words. Dictionary translation
    # and code-switching use it before falling back to a segmenter.
    segmentation: dict[str, list[str]] = field(default_factory=dict)
    # A bilingual word list from the data itself (HSK glosses): (source word, lang, target, lang).
    lexicon: list[tuple[str, str, str, str]] = field(default_factory=list)
    # What this run read (not saved with the data: each load starts an empty record).
    access: DataAccess = field(default_factory=DataAccess, compare=False, repr=False)

    @property
    def languages(self) -> list[str]:
        langs: set[str] = set()
        for ds in self.splits.values():
            langs.update(ds.unique("lang"))
        return sorted(langs)

    def count(self, split: str, lang: str, limit: int | None = None) -> int:
        """How many rows `subset` would return (nothing read, nothing recorded)."""
        return len(rows_where(self.splits[split], "lang", lang)[:limit])

    def languages_of(self, split: str) -> list[str]:
        return sorted(self.splits[split].unique("lang")) if split in self.splits else []

    def subset(
        self,
        split: str,
        lang: str,
        limit: int | None = None,
        *,
        purpose: Purpose | str,
        labelled: bool = True,
        detail: str = "",
    ) -> Dataset:
        """Rows of one split and language, optionally the first `limit` of them, recorded in
        `access` with why they were read. `labelled=False` drops the labels before returning."""
        ds = self.splits[split]
        idx = rows_where(ds, "lang", lang)
        if limit is not None:
            idx = idx[:limit]
        if len(idx) and idx[-1] - idx[0] + 1 == len(idx):  # grouped by language (the cache does)
            rows = ds.select(range(int(idx[0]), int(idx[-1]) + 1))  # a slice, no index map
        else:
            rows = ds.select(idx)
        label_columns = [c for c in LABEL_COLUMNS if c in rows.column_names]
        if not labelled and label_columns:
            rows = rows.remove_columns(label_columns)
        self.access.record(split, lang, labelled=labelled and bool(label_columns),
                           purpose=purpose, rows=len(rows), detail=detail)  # fmt: skip
        return rows
