"""A prepared DatasetSplits on disk, so later runs skip parsing and building the source: keyed by
the source's own fingerprint, written atomically.

A cache hit must cost a few milliseconds, not a fraction of the first run: each split is one
Arrow file, memory-mapped, its rows grouped by language (a language's rows are then a slice,
not an index map); the word lists (gold segmentation, lexicon: 1.5 MB of JSON for HSK, most of
a hit's time) are read only when an augmentation asks for them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset

from xlt.data.dataset_splits import DatasetSplits, column

VERSION = 2
WORD_LISTS = ("segmentation", "lexicon")


class _WordLists:
    """The cached segmentation and lexicon, parsed on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def content(self) -> dict[str, Any]:
        loaded = json.loads(self.path.read_text())
        loaded["lexicon"] = [tuple(entry) for entry in loaded["lexicon"]]
        return loaded


class LazySegmentation(Mapping):
    def __init__(self, source: _WordLists) -> None:
        self.source = source

    def __getitem__(self, text: str) -> list[str]:
        return self.source.content["segmentation"][text]

    def __iter__(self) -> Iterator[str]:
        return iter(self.source.content["segmentation"])

    def __len__(self) -> int:
        return len(self.source.content["segmentation"])


class LazyLexicon(Sequence):
    def __init__(self, source: _WordLists) -> None:
        self.source = source

    def __getitem__(self, index):  # noqa: ANN001, ANN204  (int or slice, as list)
        return self.source.content["lexicon"][index]

    def __len__(self) -> int:
        return len(self.source.content["lexicon"])


def cached_transfer_data(
    fingerprint: str, cache_dir: str | Path | None, build: Callable[[], DatasetSplits]
) -> DatasetSplits:
    if cache_dir is None:
        return build()
    folder = Path(cache_dir).expanduser() / "datasets" / f"{fingerprint}-v{VERSION}"
    if (folder / "extras.json").is_file():
        return _read(folder)
    data = build()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
    try:
        for name, split in data.splits.items():
            by_language = split.select(np.argsort(column(split, "lang"), kind="stable"))
            by_language.flatten_indices(cache_file_name=str(staging / f"{name}.arrow"))
        extras = {
            f: getattr(data, f) for f in data.__dataclass_fields__ if f not in ("splits", "access")
        }
        (staging / "word_lists.json").write_text(
            json.dumps({f: extras.pop(f) for f in WORD_LISTS}, ensure_ascii=False)
        )
        extras["split_names"] = list(data.splits)
        (staging / "extras.json").write_text(json.dumps(extras, ensure_ascii=False))
        os.replace(staging, folder)
    except OSError:  # another process got there first, or the disk is full: use what we built
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data


def _read(folder: Path) -> DatasetSplits:
    extras = json.loads((folder / "extras.json").read_text())
    splits = {
        name: Dataset.from_file(str(folder / f"{name}.arrow")) for name in extras.pop("split_names")
    }
    word_lists = _WordLists(folder / "word_lists.json")
    return DatasetSplits(
        splits=splits,
        segmentation=LazySegmentation(word_lists),
        lexicon=LazyLexicon(word_lists),
        **extras,
    )
