"""Hub-backed XTREME tagging and QA data, with the real `load_dataset` names and splits:
PAN-X (WikiANN, Rahimi et al. splits) from google/xtreme `PAN-X.{lang}`; SQuAD v1.1 for
English training and dev; XQuAD (`XQuAD.{lang}`, its one split) and MLQA
(`MLQA.{lang}.{lang}`) as targets. Offline they fail within seconds, naming the alternative."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xlt.data.sources.hub_columns import (
    content_fingerprint,
    load_config,
    local_files_key,
    standardise,
)
from xlt.hub import preflight as hub_preflight

if TYPE_CHECKING:  # `datasets` loads after `preflight` (xlt-train checks the hub first)
    from xlt.data.dataset_splits import DatasetSplits

OFFLINE_ALTERNATIVE = (
    "dataset=local_tagging / dataset=local_qa with files in the same schema, or dataset=hsk_topic"
)


def load_hub_tagging(
    path: str,
    config_template: str,
    languages: list[str],
    source_lang: str = "en",
    revision: str | None = None,
) -> DatasetSplits:
    """Train and dev of the source language; dev and test of every language."""
    from datasets import concatenate_datasets

    from xlt.data.dataset_splits import DatasetSplits

    parts: dict[str, list] = {"train": [], "dev": [], "test": []}
    names: list[str] = []
    files, languages = local_files_key(path), list(languages)
    columns = {"tokens": "tokens", "ner_tags": "tags"}
    for lang in languages:
        loaded = load_config(path, config_template.format(lang=lang), revision, files,
                             OFFLINE_ALTERNATIVE)  # fmt: skip
        names = next(iter(loaded.values())).features["ner_tags"].feature.names
        for split, hub_split in (("train", "train"), ("dev", "validation"), ("test", "test")):
            if split == "train" and lang != source_lang:
                continue  # zero-shot: target TRAIN data is never read into the run
            if hub_split in loaded:
                ds = loaded[hub_split]
                parts[split].append(standardise(ds, columns, lang, f"{lang}-{hub_split}"))
    fingerprints = [ds._fingerprint for p in parts.values() for ds in p]
    return DatasetSplits(
        splits={s: concatenate_datasets(p) for s, p in parts.items() if p},
        label_names=list(names),
        fingerprint=content_fingerprint(
            path, revision, files, config_template, languages, fingerprints
        ),
        info={"source": f"hub:{path}"},
    )


def load_hub_qa(
    train_path: str,
    train_config: str,
    eval_path: str,
    eval_config_template: str,
    languages: list[str],
    eval_split: str = "test",
    revision: str | None = None,
) -> DatasetSplits:
    """SQuAD train/validation as source train/dev; each language's `eval_split` as its test."""
    from datasets import concatenate_datasets

    from xlt.data.dataset_splits import DatasetSplits

    columns = {c: c for c in ("id", "question", "context", "answers")}
    languages = list(languages)

    def load(path: str, config: str):
        return load_config(path, config, revision, local_files_key(path), OFFLINE_ALTERNATIVE)

    def rows(ds, lang: str, tag: str):
        return standardise(ds, columns, lang, tag, id_column="id")

    squad = load(train_path, train_config)
    tests = [rows(load(eval_path, eval_config_template.format(lang=lang))[eval_split], lang, lang)
             for lang in languages]  # fmt: skip
    splits = {"train": rows(squad["train"], "en", "train"),
              "dev": rows(squad["validation"], "en", "dev"),
              "test": concatenate_datasets(tests)}  # fmt: skip
    fingerprints = [splits["train"]._fingerprint, splits["dev"]._fingerprint,
                    *(t._fingerprint for t in tests)]  # fmt: skip
    return DatasetSplits(
        splits=splits,
        label_names=[],
        fingerprint=content_fingerprint(
            train_path,
            eval_path,
            eval_config_template,
            revision,
            local_files_key(eval_path),
            languages,
            fingerprints,
        ),  # fmt: skip
        info={"source": f"hub:{eval_path}"},
    )


def preflight(**kwargs: object) -> None:
    hub_preflight(
        "dataset", str(kwargs.get("path") or kwargs.get("eval_path")), OFFLINE_ALTERNATIVE
    )
