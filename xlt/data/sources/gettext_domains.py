"""A second labelled EN/ZH dataset, offline and not built from HSK: which program a software
message comes from (git, PostgreSQL, GTK, libc, GnuPG, ...), from Debian's zh_CN gettext
catalogues. Each message exists in English and Chinese; the split is by message, so a
translation pair never crosses splits. The labels are the catalogue names."""

from __future__ import annotations

import hashlib
import json
import random
from functools import partial
from typing import Annotated

from datasets import Dataset

from xlt.config.bounds import Range
from xlt.data.dataset_cache import cached_transfer_data
from xlt.data.dataset_splits import SPLITS, DatasetSplits
from xlt.data.sources.gettext_catalogues import CATALOGUES, catalogues, is_sentence, word_pairs
from xlt.data.splits import stratified_split
from xlt.errors import DataError

ATTRIBUTION = (
    "Software messages and their zh_CN translations from the gettext catalogues of Debian "
    "packages (/usr/share/locale); each catalogue keeps its package's licence."
)


def domain_messages(locale: str) -> dict[str, dict[str, str]]:
    """Catalogue -> {English sentence: Chinese}; a sentence found in two catalogues is dropped
    (it could not be told apart, e.g. GTK 2 and GTK 3 share many)."""
    found: dict[str, dict[str, str]] = {}
    owners: dict[str, set[str]] = {}
    for name, entries in catalogues(locale):
        kept = {en.strip(): zh.strip() for en, zh in entries.items() if is_sentence(en, zh)}
        found[name] = kept
        for en in kept:
            owners.setdefault(en, set()).add(name)
    return {name: {en: zh for en, zh in kept.items() if len(owners[en]) == 1}
            for name, kept in found.items()}  # fmt: skip


def load_gettext_domains(
    domains: Annotated[int, Range(ge=2)] = 8,
    per_domain: Annotated[int, Range(ge=10)] = 250,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    split_seed: Annotated[int, Range(ge=0)] = 0,
    locale: str = "zh_CN",
    cache_dir: str | None = None,
) -> DatasetSplits:
    """The `domains` catalogues with the most sentences, `per_domain` sampled from each."""
    by_domain = domain_messages(locale)
    chosen = sorted(by_domain, key=lambda d: (-len(by_domain[d]), d))[:domains]
    if len(chosen) < domains or len(by_domain[chosen[-1]]) < per_domain:
        raise DataError(f"dataset gettext_domains: {CATALOGUES}/{locale} has "
                        f"{len([d for d in by_domain if len(by_domain[d]) >= per_domain])} "
                        f"catalogues with {per_domain}+ sentences, {domains} wanted; install "
                        "Debian packages with translations or lower dataset.loader.domains / "
                        "per_domain")  # fmt: skip
    content = json.dumps([[d, sorted(by_domain[d].items())] for d in chosen], ensure_ascii=False)
    key = json.dumps([content, per_domain, list(fractions), split_seed])
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    build = partial(_build, by_domain, chosen, per_domain, fractions, split_seed, locale)
    return cached_transfer_data(f"gettext-{fingerprint}", cache_dir,
                                lambda: build(fingerprint))  # fmt: skip


def _build(by_domain, chosen, per_domain, fractions, split_seed, locale, fingerprint):
    items = []
    for label, domain in enumerate(sorted(chosen)):
        pairs = sorted(by_domain[domain].items())
        items += [(en, zh, label) for en, zh in random.Random(split_seed).sample(pairs, per_domain)]
    parts = stratified_split([label for *_, label in items], list(fractions), split_seed)
    splits = {}
    for split, indices in zip(SPLITS, parts, strict=True):
        rows = {"id": [], "text": [], "label": [], "lang": []}
        for lang, column in (("en", 0), ("zh", 1)):
            for i in indices:
                rows["id"].append(f"m{i}")
                rows["text"].append(items[i][column])
                rows["label"].append(items[i][2])
                rows["lang"].append(lang)
        splits[split] = Dataset.from_dict(rows)
    # one-word messages (menu items, labels): a zh->en word list apart from the sentences
    lexicon = [(zh, "zh", en, "en") for en, zh in word_pairs(locale)]
    return DatasetSplits(splits=splits, label_names=sorted(chosen), fingerprint=fingerprint,
                        attribution=ATTRIBUTION, lexicon=lexicon,
                        info={"source": f"{CATALOGUES}/{locale}"})  # fmt: skip
