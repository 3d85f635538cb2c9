"""Hub-backed XTREME tagging and QA data, with the real `load_dataset` names and splits:
PAN-X (WikiANN, Rahimi et al. splits) from google/xtreme `PAN-X.{lang}`; SQuAD v1.1 for
English training and dev; XQuAD (`XQuAD.{lang}`, its one split) and MLQA
(`MLQA.{lang}.{lang}`) as targets. Offline they fail within seconds, naming the alternative."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from xlt.hub import load_from_hub
from xlt.hub import preflight as hub_preflight

if TYPE_CHECKING:
    from xlt.data.transfer_data import TransferData

OFFLINE_ALTERNATIVE = (
    "dataset=local_tagging / dataset=local_qa with files in the same schema, or dataset=hsk_topic"
)


def _load(path: str, config: str):
    from datasets import load_dataset

    return load_from_hub(
        "dataset", f"{path}/{config}", OFFLINE_ALTERNATIVE, lambda: load_dataset(path, config)
    )


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def load_hub_tagging(
    path: str, config_template: str, languages: list[str], source_lang: str = "en"
) -> TransferData:
    """Train and dev of the source language; dev and test of every language."""
    from datasets import Dataset, concatenate_datasets

    from xlt.data.transfer_data import TransferData

    parts: dict[str, list] = {"train": [], "dev": [], "test": []}
    names: list[str] = []
    for lang in languages:
        loaded = _load(path, config_template.format(lang=lang))
        names = loaded["train"].features["ner_tags"].feature.names
        for split, hub_split in (("train", "train"), ("dev", "validation"), ("test", "test")):
            if split == "train" and lang != source_lang:
                continue  # zero-shot: target TRAIN data is never downloaded into the run
            ds = loaded[hub_split]
            parts[split].append(
                Dataset.from_dict(
                    {
                        "id": [f"{lang}-{hub_split}-{i}" for i in range(len(ds))],
                        "tokens": ds["tokens"],
                        "tags": ds["ner_tags"],
                        "lang": [lang] * len(ds),
                    }
                )
            )
    return TransferData(
        splits={s: concatenate_datasets(p) for s, p in parts.items() if p},
        label_names=list(names),
        fingerprint=_fingerprint(path, config_template, languages),
        info={"source": f"hub:{path}"},
    )


def load_hub_qa(
    train_path: str,
    train_config: str,
    eval_path: str,
    eval_config_template: str,
    languages: list[str],
    eval_split: str = "test",
) -> TransferData:
    """SQuAD train/validation as source train/dev; each language's `eval_split` as its test."""
    from datasets import Dataset, concatenate_datasets

    from xlt.data.transfer_data import TransferData

    def rows(ds, lang: str, tag: str) -> Dataset:
        return Dataset.from_dict(
            {
                "id": [f"{tag}-{x}" for x in ds["id"]],
                "question": ds["question"],
                "context": ds["context"],
                "answers": ds["answers"],
                "lang": [lang] * len(ds),
            }
        )

    squad = _load(train_path, train_config)
    tests = [
        rows(_load(eval_path, eval_config_template.format(lang=lang))[eval_split], lang, lang)
        for lang in languages
    ]
    return TransferData(
        splits={
            "train": rows(squad["train"], "en", "train"),
            "dev": rows(squad["validation"], "en", "dev"),
            "test": concatenate_datasets(tests),
        },
        label_names=[],
        fingerprint=_fingerprint(train_path, eval_path, eval_config_template, languages),
        info={"source": f"hub:{eval_path}"},
    )


def preflight(**kwargs: object) -> None:
    hub_preflight(
        "dataset", str(kwargs.get("path") or kwargs.get("eval_path")), OFFLINE_ALTERNATIVE
    )
