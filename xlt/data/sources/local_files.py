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

from xlt.data.transfer_data import SPLITS, TransferData
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


def load_local(
    files: Mapping[str, Any],
    text_column: str = "text",
    label_column: str = "label",
    lang_column: str | None = "lang",
    id_column: str | None = None,
    text_pair_column: str | None = None,
    labels: list[str] | None = None,
) -> TransferData:
    frames: dict[str, pd.DataFrame] = {}
    digest = hashlib.sha256()
    for split, entries in _split_files(files).items():
        parts = []
        for path, lang in entries:
            frame = _read_table(path)
            digest.update(path.read_bytes())
            wanted = [text_column, label_column] + ([text_pair_column] if text_pair_column else [])
            if lang is None:
                wanted.append(lang_column or "lang")
            missing = [c for c in wanted if c not in frame.columns]
            if missing:
                raise DataError(
                    f"{path}: missing column(s) {missing}; it has {list(frame.columns)}. "
                    "Set dataset.loader.text_column / label_column / lang_column."
                )
            frame = frame.assign(_file=str(path), _row=range(len(frame)))
            frame = _drop_empty_texts(frame, path, [text_column, text_pair_column])
            if lang is not None:
                frame["lang"] = lang
            elif lang_column != "lang":
                frame["lang"] = frame[lang_column]
            parts.append(frame)
        frames[split] = pd.concat(parts, ignore_index=True)

    label_names = (
        list(labels) if labels else sorted(map(str, frames["train"][label_column].unique()))
    )
    label_of = {name: i for i, name in enumerate(label_names)}
    splits = {}
    for split, frame in frames.items():
        raw = frame[label_column].astype(str)
        bad = ~raw.isin(label_of)
        if bad.any():
            row = frame[bad].iloc[0]
            raise DataError(
                f"{row['_file']} row {row['_row'] + 1}: label {row[label_column]!r} is not one of "
                f"the {len(label_names)} known labels {label_names[:10]}... "
                "(labels come from the train file unless dataset.loader.labels lists them)"
            )
        columns = {
            "id": (
                frame[id_column].astype(str) if id_column else frame["_row"].astype(str)
            ).tolist(),
            "text": frame[text_column].astype(str).tolist(),
            "label": raw.map(label_of).tolist(),
            "lang": frame["lang"].astype(str).tolist(),
        }
        if text_pair_column:
            columns["text_pair"] = frame[text_pair_column].astype(str).tolist()
        splits[split] = Dataset.from_dict(columns)

    digest.update(
        json.dumps([text_column, label_column, lang_column, text_pair_column, label_names]).encode()
    )
    return TransferData(
        splits=splits,
        label_names=label_names,
        fingerprint=digest.hexdigest()[:16],
        has_text_pair=text_pair_column is not None,
        info={"source": "local files"},
    )
