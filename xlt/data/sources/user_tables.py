"""Users' table files (JSONL, CSV, TSV, Parquet) read strictly: what cannot be read as the user
meant is refused in one line that names the file and, where there is one, the line.

Accepted as written: a UTF-8 byte-order mark, and CRLF, CR or mixed line ends. Refused: other
encodings (UTF-16, Latin-1, ...), NUL bytes, a JSONL line that is not one JSON object (a
truncated last line included), duplicated column names, a CSV line that does not parse, and a
file without rows.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd

from xlt.data.text_files import decoded
from xlt.errors import DataError

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv",
           ".parquet": "parquet"}  # fmt: skip


def read_table(path: Path) -> pd.DataFrame:
    """The file's rows as a frame (text columns as str; JSON values as written)."""
    if not path.exists():
        raise DataError(f"dataset file not found: {path} (check dataset.files.*)")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unsupported format {path.suffix!r}; use {sorted(FORMATS)}")
    frame = _parquet(path) if kind == "parquet" else _text_table(path, kind)
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise DataError(f"{path} line 1: column(s) {duplicated} appear twice; rename one")
    if frame.empty:
        raise DataError(f"{path}: the file has no rows")
    return frame


def _parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as err:  # pyarrow's errors have no common base worth naming
        first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise DataError(f"{path}: not a readable Parquet file ({first})") from err


def _text_table(path: Path, kind: str) -> pd.DataFrame:
    text = decoded(path)
    if kind == "jsonl":
        return pd.DataFrame(_json_lines(path, text))
    sep = "\t" if kind == "tsv" else ","
    header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{path} line 1: column(s) {repeated} appear twice; rename one")
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as err:  # pandas names the line
        message = str(err).splitlines()[0][:200] if str(err) else "no columns"
        raise DataError(f"{path}: cannot be parsed as {kind} ({message})") from err


def _json_lines(path: Path, text: str) -> list[dict]:
    """One JSON object per non-blank line; a repeated key within an object is refused."""

    def unique_keys(pairs: list[tuple[str, object]]) -> dict:
        keys = [k for k, _ in pairs]
        if len(set(keys)) < len(keys):
            raise ValueError(f"key(s) {sorted({k for k in keys if keys.count(k) > 1})} twice")
        return dict(pairs)

    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_pairs_hook=unique_keys)
        except ValueError as err:  # JSONDecodeError is a ValueError
            raise DataError(f"{path} line {number}: not one JSON object "
                            f"({str(err).splitlines()[0][:160]})") from err  # fmt: skip
        if not isinstance(row, dict):
            raise DataError(f"{path} line {number}: a JSON {type(row).__name__}, not an object "
                            "with named fields")  # fmt: skip
        rows.append(row)
    return rows
