"""User data from JSONL / CSV / TSV / Parquet files: one file per split with a language column,
or one file per split and language."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from datasets import Dataset

from xlt.data.dataset_splits import SPLITS, DatasetSplits
from xlt.data.sources.user_tables import read_table
from xlt.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def check_values(frame: pd.DataFrame, path: Path, columns: dict[str, str | None]) -> None:
    """Texts are strings, labels names or integers, languages non-empty strings: anything else
    (a list, a number where a text belongs, a missing label) is refused naming file and row."""
    texts = [c for c in (columns["text"], columns["pair"]) if c]
    lang = columns["lang"] if columns["lang"] in frame.columns else None
    for column in [*texts, *(c for c in (columns["label"], lang) if c)]:
        for row, value in enumerate(frame[column]):
            problem = _cell_problem(value, column in texts, column == columns["label"])
            if problem:
                raise DataError(f"{path} row {row + 1}: {column} {problem}")


def _cell_problem(value: object, is_text: bool, is_label: bool) -> str | None:
    """Why a cell cannot be used, or None (an empty text is dropped later, with a warning)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None if is_text else "is missing"
    if isinstance(value, str):
        return None if is_text or value.strip() else "is empty"
    if is_label and isinstance(value, int | np.integer) and not isinstance(value, bool):
        return None
    kind = "a name or an integer" if is_label else "a string"
    return f"is {str(value)[:40]!r} ({type(value).__name__}); it must be {kind}"


def _drop_empty_texts(frame: pd.DataFrame, path: Path, columns: list[str | None]) -> pd.DataFrame:
    """Rows with an empty text cannot be classified: dropped, and the rows named in a warning."""
    empty = pd.Series(False, index=frame.index)
    for column in filter(None, columns):
        empty |= frame[column].isna() | (frame[column].astype(str).str.strip() == "")
    if empty.any():
        rows = (frame.loc[empty, "_row"] + 1).tolist()
        shown = ", ".join(map(str, rows[:20]))
        log.warning("%s: dropped %d row(s) with an empty text: row %s", path, len(rows), shown)
    if empty.all():
        raise DataError(f"{path}: no row has a text (every {' / '.join(filter(None, columns))} "
                        "cell is empty)")  # fmt: skip
    return frame[~empty]


def _split_files(files: Mapping[str, Any]) -> dict[str, list[tuple[Path, str | None]]]:
    """{split: [(path, language or None)]}; a mapping per split means per-language files."""
    unknown = set(files) - set(SPLITS)
    if unknown:
        raise ConfigError(f"dataset.files: unknown split(s) {sorted(unknown)}; use {SPLITS}")
    out: dict[str, list[tuple[Path, str | None]]] = {}
    for split, spec in files.items():
        if spec is None:
            continue
        if isinstance(spec, Mapping):
            out[split] = [(Path(p).expanduser(), str(lang)) for lang, p in spec.items()]
        else:
            out[split] = [(Path(str(spec)).expanduser(), None)]
    if "train" not in out:
        raise ConfigError("dataset.files.train is required (a path, or {lang: path})")
    return out


def _read_split(
    split: str, entries: list[tuple[Path, str | None]], columns: dict[str, str | None], digest
) -> pd.DataFrame:
    """One split's files as one frame with `lang`, `_file`, `_row` and a row id unique across
    splits and languages (`split-row`, `split-lang-row` for per-language files): the same text
    in two splits is two items, and rows of different files are never taken as translations
    of each other unless `dataset.loader.id_column` says so."""
    parts = []
    for path, lang in entries:
        frame = read_table(path)
        digest.update(path.read_bytes())
        wanted = [columns["text"], columns["label"]] + (
            [columns["pair"]] if columns["pair"] else []
        )
        if lang is None:
            wanted.append(columns["lang"] or "lang")
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {missing}; it has {list(frame.columns)}. "
                "Set dataset.loader.text_column / label_column / lang_column."
            )
        check_values(frame, path, columns)
        frame = frame.assign(_file=str(path), _row=range(len(frame)))
        frame = _drop_empty_texts(frame, path, [columns["text"], columns["pair"]])
        frame["lang"] = lang if lang is not None else frame[columns["lang"] or "lang"]
        prefix = f"{split}-{lang}-" if lang is not None else f"{split}-"
        frame["_id"] = prefix + frame["_row"].astype(str)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _to_dataset(frame: pd.DataFrame, columns: dict[str, str | None], label_names: list[str]):
    """Rows as a Dataset with integer labels; an unknown label names its file and row."""
    label_of = {name: i for i, name in enumerate(label_names)}
    raw = frame[columns["label"]].astype(str)
    bad = ~raw.isin(label_of)
    if bad.any():
        row = frame[bad].iloc[0]
        raise DataError(
            f"{row['_file']} row {row['_row'] + 1}: label {row[columns['label']]!r} is not one "
            f"of the {len(label_names)} known labels {label_names[:10]}... "
            "(labels come from the train file unless dataset.loader.labels lists them)"
        )
    ids = frame[columns["id"]] if columns["id"] else frame["_id"]
    rows = {
        "id": ids.astype(str).tolist(),
        "text": frame[columns["text"]].astype(str).tolist(),
        "label": raw.map(label_of).tolist(),
        "lang": frame["lang"].astype(str).tolist(),
    }
    if columns["pair"]:
        rows["text_pair"] = frame[columns["pair"]].astype(str).tolist()
    return Dataset.from_dict(rows)


def load_local(
    files: Mapping[str, Any],
    text_column: str = "text",
    label_column: str = "label",
    lang_column: str | None = "lang",
    id_column: str | None = None,
    text_pair_column: str | None = None,
    labels: list[str] | None = None,
) -> DatasetSplits:
    """Classification rows from the user's files (see the README's `dataset=local` section)."""
    columns = {"text": text_column, "label": label_column, "lang": lang_column,
               "id": id_column, "pair": text_pair_column}  # fmt: skip
    digest = hashlib.sha256(b"ids:split-qualified")  # cached tables from older ids are not reused
    frames = {split: _read_split(split, entries, columns, digest)
              for split, entries in _split_files(files).items()}  # fmt: skip
    label_names = (
        list(labels) if labels else sorted(map(str, frames["train"][label_column].unique()))
    )
    splits = {split: _to_dataset(frame, columns, label_names) for split, frame in frames.items()}
    digest.update(
        json.dumps([text_column, label_column, lang_column, text_pair_column, label_names]).encode()
    )
    return DatasetSplits(
        splits=splits,
        label_names=label_names,
        fingerprint=digest.hexdigest()[:16],
        has_text_pair=text_pair_column is not None,
        info={"source": "local files"},
    )
