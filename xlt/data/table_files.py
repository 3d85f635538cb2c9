"""Rows to predict on, from the files users have (JSONL, CSV, TSV, Parquet, plain text), and
predictions written back in the same format."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from xlt.errors import ConfigError

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv",
           ".parquet": "parquet", ".txt": "txt"}  # fmt: skip


def table_format(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"{path}: unknown file type {path.suffix!r}; use "
                          f"{', '.join(sorted(FORMATS))}")  # fmt: skip
    return kind


def read_rows(path: Path) -> pd.DataFrame:
    """The file's rows (a .txt file: one text per line); string ids."""
    if not path.is_file():
        raise ConfigError(f"no input file {path}")
    kind = table_format(path)
    try:
        frame = _read(path, kind)
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 (byte {err.start}); convert it, e.g. "
                          f"`iconv -f GB18030 -t UTF-8 {path}`") from err  # fmt: skip
    except (ValueError, json.JSONDecodeError, pd.errors.ParserError) as err:
        raise ConfigError(f"{path} is not valid {kind}: {str(err).splitlines()[0][:160]}") from err
    if frame.empty:
        raise ConfigError(f"{path} has no rows")
    if "id" in frame.columns:
        frame["id"] = frame["id"].astype(str)
    return frame


def _read(path: Path, kind: str) -> pd.DataFrame:
    if kind == "txt":  # ids are line numbers, so predictions line up with the file's lines
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [(str(number), line) for number, line in enumerate(lines, 1) if line.strip()]
        frame = pd.DataFrame({"id": [n for n, _ in kept], "text": [t for _, t in kept]})
        frame.attrs["empty_lines"] = len(lines) - len(kept)
        frame.attrs["lines"] = len(lines)
        return frame
    if kind == "parquet":
        return pd.read_parquet(path)
    if kind == "jsonl":
        text = path.read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return pd.DataFrame(rows)
    sep = "\t" if kind == "tsv" else ","
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists as text for flat formats: tags joined by spaces, probabilities left out."""
    frame = frame.drop(columns=[c for c in ("probabilities",) if c in frame.columns])
    if "tags" in frame.columns:
        frame["tags"] = [" ".join(tags) for tags in frame["tags"]]
    return frame


def aligned_lines(frame: pd.DataFrame, lines: int) -> str:
    """A .txt output line per input line: the prediction's fields tab-separated on the line of
    its text (`id` is the line number), an empty line where the input line was empty."""
    fields = flat(frame).drop(columns=["id"], errors="ignore").astype(str)
    out = [""] * lines
    for line, row in zip(frame["id"], fields.itertuples(index=False), strict=True):
        out[int(line) - 1] = "\t".join(v.replace("\t", " ").replace("\n", " ") for v in row)
    return "".join(f"{text}\n" for text in out)


def write_rows(frame: pd.DataFrame, path: Path, lines: int | None = None) -> None:
    """`lines`: for a .txt output, the input's line count (its predictions line up with it)."""
    kind = table_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "txt" and lines is not None and "id" in frame.columns:
        path.write_text(aligned_lines(frame, lines), encoding="utf-8")
    elif kind == "txt":
        flat(frame).drop(columns=["id"], errors="ignore").to_csv(path, sep="\t", index=False,
                                                               header=False)  # fmt: skip
    else:
        flat(frame).to_csv(path, sep="\t" if kind == "tsv" else ",", index=False)
