"""Hub-backed benchmarks (XNLI, PAWS-X): the real `load_dataset` calls, per language config.

The rows stay in the memory-mapped Arrow files `datasets` prepared (renaming, selecting and
adding the `id`/`lang` columns are Arrow operations, never a Python object per row), so XNLI's
15 x 393k training pairs cost disk, not memory; the fingerprint is the loaded tables' own
(`datasets` derives it from the hub revision; for a local folder, the files' sizes and times
count too), so changed data is new data.
`load_dataset` on a local folder works offline: a user's own dataset in the hub layout (one
config per language) goes through this same code. Offline, a hub path fails within seconds
with a message pointing at the offline datasets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xlt.data.sources.hub_columns import (
    content_fingerprint,
    load_config,
    local_files_key,
    standardise,
)
from xlt.hub import preflight as hub_preflight

if TYPE_CHECKING:  # `xlt-train` runs `preflight` before the heavy imports
    from datasets import Dataset

    from xlt.data.dataset_splits import DatasetSplits

OFFLINE_ALTERNATIVE = "dataset=hsk_topic (EN/ZH, bundled) or dataset=local with your own files"
SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def load_hub_classification(
    path: str,
    languages: list[str],
    label_names: list[str],
    text_column: str,
    text_pair_column: str | None = None,
    label_column: str = "label",
    split_names: dict[str, str] | None = None,
    revision: str | None = None,
) -> DatasetSplits:
    """One hub config per language (`load_dataset(path, lang)`); its splits become train, dev
    and test (a split a language does not have is skipped: XNLI-style test-only languages)."""
    from datasets import concatenate_datasets

    from xlt.data.dataset_splits import DatasetSplits

    split_names, languages = dict(split_names or SPLITS), list(languages)
    columns = {text_column: "text", label_column: "label"}
    if text_pair_column:
        columns[text_pair_column] = "text_pair"
    parts: dict[str, list[Dataset]] = {split: [] for split in split_names}
    files = local_files_key(path)
    for lang in languages:
        loaded = load_config(path, lang, revision, files, OFFLINE_ALTERNATIVE)
        for split, hub_split in split_names.items():
            if hub_split in loaded:
                parts[split].append(standardise(loaded[hub_split], columns, lang, hub_split))
    fingerprints = [ds._fingerprint for p in parts.values() for ds in p]
    return DatasetSplits(
        splits={s: concatenate_datasets(p) for s, p in parts.items() if p},
        label_names=list(label_names),
        fingerprint=content_fingerprint(
            path, revision, files, languages, columns, split_names, fingerprints
        ),  # fmt: skip
        has_text_pair=text_pair_column is not None,
        info={"source": f"hub:{path}", **({"revision": revision} if revision else {})},
    )


def preflight(path: str, **_: object) -> None:
    """Called by `xlt-train` before anything heavy: a hub dataset that cannot load fails now."""
    hub_preflight("dataset", path, OFFLINE_ALTERNATIVE)
