"""HSK graded sentences (`hsk-sentences-audio` wheel): every Chinese sentence with its English
translation and labels (topic, HSK level, sentence type), a real EN/ZH transfer task offline."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from importlib import metadata
from typing import Annotated

from datasets import Dataset

from xlt.config.bounds import Range
from xlt.data.dataset_cache import cached_transfer_data
from xlt.data.dataset_splits import SPLITS, DatasetSplits
from xlt.data.splits import stratified_split
from xlt.errors import ConfigError

ATTRIBUTION = (
    "HSK sentences from the `hsk-sentences-audio` package (data CC-BY-SA-4.0): "
    "graded Chinese sentences with English translations. Redistributions must keep this notice."
)
LABEL_FIELDS = ("topic", "hsk_level", "sentence_type")


def _records() -> list[dict]:
    from hsk_sentences_audio import load_sentences

    return load_sentences()


def load_hsk(
    label_field: str = "topic",
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    split_seed: Annotated[int, Range(ge=0)] = 0,
    languages: tuple[str, ...] = ("en", "zh"),
    cache_dir: str | None = None,
) -> DatasetSplits:
    """The HSK splits for one label field; prepared once, then read from `cache_dir`."""
    if label_field not in LABEL_FIELDS:
        raise ConfigError(
            f"dataset.loader.label_field={label_field!r} is not an HSK label; "
            f"use one of {list(LABEL_FIELDS)}."
        )
    unknown = set(languages) - {"en", "zh"}
    if unknown:
        raise ConfigError(f"dataset.loader.languages: HSK has en and zh, not {sorted(unknown)}.")
    version = metadata.version("hsk-sentences-audio")
    key = json.dumps([version, label_field, list(fractions), split_seed, list(languages)])
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    build = partial(_build, label_field, fractions, split_seed, languages, fingerprint, version)
    return cached_transfer_data(f"hsk-{fingerprint}", cache_dir, build)


def _build(label_field, fractions, split_seed, languages, fingerprint, version) -> DatasetSplits:
    records = _records()
    label_names = sorted({str(r[label_field]) for r in records})
    label_of = {name: i for i, name in enumerate(label_names)}
    labels = [label_of[str(r[label_field])] for r in records]
    parts = stratified_split(labels, list(fractions), split_seed)

    splits = {}
    for split, indices in zip(SPLITS, parts, strict=True):
        rows = {"id": [], "text": [], "label": [], "lang": []}
        for lang in languages:
            for i in indices:
                r = records[i]
                rows["id"].append(r["id"])
                rows["text"].append(r["chinese"] if lang == "zh" else r["translation"]["en"])
                rows["label"].append(labels[i])
                rows["lang"].append(lang)
        splits[split] = Dataset.from_dict(rows)

    segmentation = {r["chinese"]: [t["word"] for t in r["tokens"]] for r in records}
    # The glosses of TRAIN sentences only: nothing of dev/test reaches training via the lexicon.
    lexicon = [
        (t["word"], "zh", t["gloss_en"], "en") for i in parts[0] for t in records[i]["tokens"]
    ]
    return DatasetSplits(
        splits=splits,
        label_names=label_names,
        fingerprint=fingerprint,
        attribution=ATTRIBUTION,
        info={"source": f"hsk-sentences-audio=={version}", "label_field": label_field},
        segmentation=segmentation,
        lexicon=lexicon,
    )
