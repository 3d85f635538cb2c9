"""Tokenisation through `datasets` with an on-disk cache keyed by content, so a second run with
the same data, tokenizer and length limit reads Arrow files instead of tokenising again."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from datasets import Dataset
from transformers import PreTrainedTokenizerBase

from xlt.data.dataset_splits import column, in_table_order

log = logging.getLogger(__name__)


def tokenizer_identity(tokenizer: PreTrainedTokenizerBase) -> str:
    return f"{type(tokenizer).__name__}:{tokenizer.name_or_path}:{len(tokenizer)}"


def cached_map(
    ds: Dataset,
    encode: Callable[[dict], dict],
    identity: list,
    cache_dir: str | Path,
    remove_columns: list[str] | None = None,
) -> Dataset:
    """`ds.map(encode, batched=True)` cached in cache_dir/tokenized under a hash of `identity`
    (which must name the content, the tokenizer and every setting of `encode`)."""
    identity = [*identity, sorted(ds.column_names), len(ds)]  # what reaches `encode`
    fingerprint = hashlib.sha256(json.dumps(identity, default=str).encode()).hexdigest()[:24]
    path = Path(cache_dir).expanduser() / "tokenized" / f"{fingerprint}.arrow"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():  # the whole mapped table is in the file: read it (memory-mapped)
        log.debug("tokenised: cache hit %s", path.name)
        return Dataset.from_file(str(path))
    return ds.map(
        encode,
        batched=True,
        batch_size=1000,
        cache_file_name=str(path),
        new_fingerprint=fingerprint,
        load_from_cache_file=True,
        remove_columns=remove_columns,
        desc="tokenising",
    )


def tokenize(
    ds: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    *,
    max_length: int,
    text_prefix: str,
    cache_dir: str | Path,
    key: list,
) -> Dataset:
    """Add `input_ids` and `length` (the text stays, for batch-time rewriting such as
    code-switching). `key` must identify `ds`'s content."""
    has_pair = "text_pair" in ds.column_names

    def encode(batch: dict) -> dict:
        texts = [text_prefix + t for t in batch["text"]]
        pairs = batch["text_pair"] if has_pair else None
        enc = tokenizer(texts, pairs, truncation=True, max_length=max_length)
        ids = enc["input_ids"]
        return {"input_ids": ids, "length": [len(x) for x in ids]}

    identity = ["v2", tokenizer_identity(tokenizer), max_length, text_prefix, *key]
    return cached_map(ds, encode, identity, cache_dir)


def count_truncated(ds: Dataset, max_length: int, where: str) -> int:
    """Rows that reached the token limit (and so were cut): counted, and a warning if any."""
    n = int(np.sum(column(ds, "length") >= max_length)) if len(ds) else 0
    if n:
        log.warning(
            "%s: %d of %d texts reached model.max_length=%d tokens and were truncated",
            where, n, len(ds), max_length,
        )  # fmt: skip
    return n


def sort_by_length(ds: Dataset) -> Dataset:
    """Evaluation order does not change metrics; similar lengths together waste less padding.
    A table read from the tokenisation cache is sorted once; the sorted copy is cached beside it
    (a later run reads it instead of building an index map)."""
    files = ds.cache_files
    if len(files) != 1 or not in_table_order(ds):
        return ds.select(np.argsort(column(ds, "length"), kind="stable"))
    path = Path(files[0]["filename"]).with_suffix(".by-length.arrow")
    if path.exists():
        return Dataset.from_file(str(path))
    order = np.argsort(column(ds, "length"), kind="stable")
    return ds.select(order).flatten_indices(cache_file_name=str(path))
