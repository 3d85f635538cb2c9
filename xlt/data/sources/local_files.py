"""User data from JSONL / CSV / TSV / Parquet files: one file per split with a language column,
or one file per split and language."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset

from xlt.data.dataset_splits import SPLITS, DatasetSplits
from xlt.errors import ConfigError, DataError

log = logging.getLogger(__name__)

_READERS = {
    ".jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
    ".json": lambda p: pd.read_json(p, lines=True, dtype=False),
    ".csv": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False),
    ".tsv": lambda p: pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False),
    ".parquet": pd.read_parquet,
}


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"dataset file not found: {path} (check dataset.files.*)")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported format {path.suffix!r}; use {sorted(_READERS)}")
    try:
        frame = reader(path)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start})") from err
    except ValueError as err:
        raise DataError(f"{path}: cannot be parsed as {path.suffix} ({err})") from err
    if frame.empty:
        raise DataError(f"{path}: the file has no rows")
    return frame


def _drop_empty_texts(frame: pd.DataFrame, path: Path, columns: list[str | None]) -> pd.DataFrame:
    """Rows with an empty text cannot be classified: dropped, and the rows named in a warning."""
    empty = pd.Series(False, index=frame.index)
    for column in filter(None, columns):
        empty |= frame[column].isna() | (frame[column].astype(str).str.strip() == "")
    if empty.any():
        rows = (frame.loc[empty, "_row"] + 1).tolist()
        shown = ", ".join(map(str, rows[:20]))
        log.warning("%s: dropped %d row(s) with an empty text: row %s", path, len(rows), shown)
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
        frame = _read_table(path)
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
