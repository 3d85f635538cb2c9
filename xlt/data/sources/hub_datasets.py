"""Hub-backed benchmarks (XNLI, PAWS-X): the real `load_dataset` calls, per language config.

Offline these fail within seconds with a message pointing at the offline datasets.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from xlt.hub import load_from_hub
from xlt.hub import preflight as hub_preflight

if TYPE_CHECKING:  # `xlt-train` runs `preflight` before the heavy imports
    from xlt.data.transfer_data import TransferData

OFFLINE_ALTERNATIVE = "dataset=hsk_topic (EN/ZH, bundled) or dataset=local with your own files"


def load_hub_classification(
    path: str,
    languages: list[str],
    label_names: list[str],
    text_column: str,
    text_pair_column: str | None = None,
    label_column: str = "label",
    split_names: dict[str, str] | None = None,
) -> TransferData:
    """One hub config per language (`load_dataset(path, lang)`); splits become train/dev/test."""
    from datasets import Dataset, concatenate_datasets, load_dataset

    from xlt.data.transfer_data import TransferData

    split_names = split_names or {"train": "train", "dev": "validation", "test": "test"}
    parts: dict[str, list[Dataset]] = {s: [] for s in split_names}
    for lang in languages:
        loaded = load_from_hub(
            "dataset",
            f"{path}/{lang}",
            OFFLINE_ALTERNATIVE,
            lambda lang=lang: load_dataset(path, lang),
        )
        for split, hub_split in split_names.items():
            ds = loaded[hub_split]
            columns = {
                "id": [f"{hub_split}-{i}" for i in range(len(ds))],
                "text": ds[text_column],
                "label": ds[label_column],
                "lang": [lang] * len(ds),
            }
            if text_pair_column:
                columns["text_pair"] = ds[text_pair_column]
            parts[split].append(Dataset.from_dict(columns))
    key = json.dumps([path, languages, text_column, text_pair_column, split_names])
    return TransferData(
        splits={s: concatenate_datasets(p) for s, p in parts.items() if p},
        label_names=list(label_names),
        fingerprint=hashlib.sha256(key.encode()).hexdigest()[:16],
        has_text_pair=text_pair_column is not None,
        info={"source": f"hub:{path}"},
    )


def preflight(path: str, **_: object) -> None:
    """Called by `xlt-train` before anything heavy: a hub dataset that cannot load fails now."""
    hub_preflight("dataset", path, OFFLINE_ALTERNATIVE)
