"""Your own tagging and QA files (JSON lines; also CSV/TSV/Parquet where the cells hold lists):
the same file layout as dataset=local (one file per split with a language column, or per
language), the same schema as the hub benchmarks.

- tagging: `tokens` (list of words), `tags` (list of tag names, one per word), `lang`
- qa: `question`, `context`, `answers` ({"text": [...], "answer_start": [...]}), `lang`
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
from datasets import Dataset

from xlt.data.dataset_splits import DatasetSplits
from xlt.data.sources.local_files import _split_files
from xlt.data.sources.user_tables import read_table
from xlt.errors import DataError


def _frames(files: Mapping[str, Any], columns: list[str], lang_column: str):
    digest, frames = hashlib.sha256(), {}
    for split, entries in _split_files(files).items():
        parts = []
        for path, lang in entries:
            frame = read_table(path)
            digest.update(path.read_bytes())
            missing = [
                c for c in columns + ([lang_column] if lang is None else []) if c not in frame
            ]
            if missing:
                raise DataError(
                    f"{path}: missing column(s) {missing}; it has {list(frame.columns)}"
                )
            frame = frame.assign(_file=str(path), _row=range(len(frame)))
            frame["lang"] = lang if lang is not None else frame[lang_column].astype(str)
            parts.append(frame)
        frames[split] = pd.concat(parts, ignore_index=True)
    return frames, digest


def load_local_tagging(
    files: Mapping[str, Any],
    tokens_column: str = "tokens",
    tags_column: str = "tags",
    lang_column: str = "lang",
    labels: list[str] | None = None,
) -> DatasetSplits:
    frames, digest = _frames(files, [tokens_column, tags_column], lang_column)
    for frame in frames.values():
        for _, row in frame.iterrows():
            if len(row[tokens_column]) != len(row[tags_column]):
                raise DataError(
                    f"{row['_file']} row {row['_row'] + 1}: {len(row[tokens_column])} tokens but "
                    f"{len(row[tags_column])} tags; every word needs exactly one tag."
                )
    seen = sorted({t for tags in frames["train"][tags_column] for t in tags})
    names = list(labels) if labels else ["O", *[t for t in seen if t != "O"]]
    index = {name: i for i, name in enumerate(names)}
    splits = {}
    for split, frame in frames.items():
        for _, row in frame.iterrows():
            unknown = [t for t in row[tags_column] if t not in index]
            if unknown:
                raise DataError(
                    f"{row['_file']} row {row['_row'] + 1}: tag {unknown[0]!r} is not among the "
                    f"train file's tags {names} (or list them in dataset.loader.labels)"
                )
        splits[split] = Dataset.from_dict(
            {
                "id": frame["_row"].astype(str).tolist(),
                "tokens": [list(map(str, t)) for t in frame[tokens_column]],
                "tags": [[index[t] for t in tags] for tags in frame[tags_column]],
                "lang": frame["lang"].tolist(),
            }
        )
    digest.update(json.dumps(["tagging", tokens_column, tags_column, names]).encode())
    return DatasetSplits(splits, names, digest.hexdigest()[:16], info={"source": "local files"})


def load_local_qa(
    files: Mapping[str, Any],
    question_column: str = "question",
    context_column: str = "context",
    answers_column: str = "answers",
    lang_column: str = "lang",
) -> DatasetSplits:
    frames, digest = _frames(files, [question_column, context_column, answers_column], lang_column)
    splits = {}
    for split, frame in frames.items():
        answers = []
        for _, row in frame.iterrows():
            answer = row[answers_column]
            texts, starts = list(answer.get("text", [])), list(answer.get("answer_start", []))
            for text, start in zip(texts, starts, strict=False):
                if row[context_column][start : start + len(text)] != text:
                    raise DataError(
                        f"{row['_file']} row {row['_row'] + 1}: answer {text!r} is not at "
                        f"character {start} of the context"
                    )
            answers.append({"text": texts, "answer_start": [int(s) for s in starts]})
        splits[split] = Dataset.from_dict(
            {
                "id": frame["_row"].astype(str).tolist(),
                "question": frame[question_column].astype(str).tolist(),
                "context": frame[context_column].astype(str).tolist(),
                "answers": answers,
                "lang": frame["lang"].tolist(),
            }
        )
    digest.update(json.dumps(["qa", question_column, context_column, answers_column]).encode())
    return DatasetSplits(splits, [], digest.hexdigest()[:16], info={"source": "local files"})
