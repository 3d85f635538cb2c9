"""A labelled many-language dataset, offline and not built from HSK: which program a software
message comes from (git, PostgreSQL, GTK, libc, GnuPG, ...), from Debian's gettext catalogues.
Every message is in English and in each requested target language (only messages translated
into all of them are used); the split is by message, so a message and all its translations
stay in one split. The labels are the catalogue names.

    python -m xlt.data.sources.gettext_domains zh ja de fr es ru ko vi   # what this machine has
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

from datasets import Dataset

from xlt.config.bounds import Range
from xlt.data.dataset_cache import cached_transfer_data
from xlt.data.dataset_splits import SPLITS, DatasetSplits
from xlt.data.sources.gettext_catalogues import (
    CATALOGUES,
    catalogue_files,
    catalogues,
    installed_by,
    is_sentence,
    locale_of,
    word_pairs,
)
from xlt.data.splits import stratified_split
from xlt.errors import DataError

ATTRIBUTION = (
    "Software messages and their translations from the gettext catalogues of Debian packages "
    "(/usr/share/locale); each catalogue keeps its package's licence."
)
Messages = dict[str, dict[str, dict[str, str]]]  # catalogue -> English -> {lang: translation}


def sentences(locale: str, lang: str, root: Path) -> dict[str, dict[str, str]]:
    """Catalogue -> {English sentence: translation} of one locale."""
    return {name: {en.strip(): text.strip() for en, text in entries.items()
                   if is_sentence(en, text, lang)}
            for name, entries in catalogues(locale, root)}  # fmt: skip


def domain_messages(locales: dict[str, str], root: Path = CATALOGUES) -> Messages:
    """Catalogue -> {English sentence: {lang: translation}} for messages translated into every
    language; a sentence found in two catalogues is dropped (it could not be told apart, e.g.
    GTK 2 and GTK 3 share many)."""
    per_lang = {lang: sentences(locale, lang, root) for lang, locale in locales.items()}
    shared = set.intersection(*(set(found) for found in per_lang.values()))
    found: Messages = {}
    owners: dict[str, set[str]] = {}
    for name in sorted(shared):
        english = set.intersection(*(set(per_lang[lang][name]) for lang in locales))
        found[name] = {en: {lang: per_lang[lang][name][en] for lang in locales}
                       for en in english}  # fmt: skip
        for en in english:
            owners.setdefault(en, set()).add(name)
    return {name: {en: t for en, t in kept.items() if len(owners[en]) == 1}
            for name, kept in found.items()}  # fmt: skip


def usable_domains(by_domain: Messages, per_domain: int) -> list[str]:
    return sorted((d for d in by_domain if len(by_domain[d]) >= per_domain),
                  key=lambda d: (-len(by_domain[d]), d))  # fmt: skip


def too_few(locales: dict[str, str], root: Path, domains: int, per_domain: int) -> str:
    """The one-line refusal: the language that limits, with its count."""
    counts = {lang: len(usable_domains(domain_messages({lang: loc}, root), per_domain))
              for lang, loc in locales.items()}  # fmt: skip
    worst = min(counts, key=counts.get)
    together = len(usable_domains(domain_messages(locales, root), per_domain))
    return (f"dataset gettext_domains: {domains} catalogues with {per_domain}+ sentences "
            f"wanted; {root}/{locales[worst]} ({worst}) has {counts[worst]} such catalogues "
            f"alone, {together} with every requested language ({', '.join(locales)}); drop "
            f"{worst} from dataset.target_langs, install Debian packages with its translations, "
            "or lower dataset.loader.domains / per_domain")  # fmt: skip


def load_gettext_domains(
    domains: Annotated[int, Range(ge=2)] = 8,
    per_domain: Annotated[int, Range(ge=10)] = 250,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    split_seed: Annotated[int, Range(ge=0)] = 0,
    targets: list[str] | None = None,
    locales: dict[str, str] | None = None,
    root: str = str(CATALOGUES),
    cache_dir: str | None = None,
    locale: str | None = None,
) -> DatasetSplits:
    """The `domains` catalogues with the most messages translated into every language of
    `targets` (language codes; `locales` maps a code to its locale folder where the table in
    gettext_catalogues.py does not), `per_domain` sampled from each. `root`: the folder of
    locale folders (a user's own catalogues). `locale`: the first target's locale folder (the
    single-target configs of earlier runs)."""
    targets = list(targets or ["zh"])
    locales = {targets[0]: locale, **(locales or {})} if locale else locales
    wanted = {lang: locale_of(lang, locales) for lang in targets}
    by_domain = domain_messages(wanted, Path(root))
    chosen = usable_domains(by_domain, per_domain)[:domains]
    if len(chosen) < domains:
        raise DataError(too_few(wanted, Path(root), domains, per_domain))
    read = [f for locale in wanted.values() for f in catalogue_files(locale, Path(root))
            if f.stem in chosen]  # fmt: skip
    packages = sorted(set(installed_by(read).values()))
    content = json.dumps([[d, sorted(by_domain[d].items())] for d in chosen], ensure_ascii=False)
    key = json.dumps([content, per_domain, list(fractions), split_seed, packages])
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    build = partial(_build, by_domain, chosen, per_domain, fractions, split_seed, wanted, root)
    data = cached_transfer_data(f"gettext-{fingerprint}", cache_dir, lambda: build(fingerprint))
    data.info["packages"] = "; ".join(packages)  # the Debian packages whose catalogues were read
    return data


def _build(by_domain, chosen, per_domain, fractions, split_seed, locales, root, fingerprint):
    items = []
    for label, domain in enumerate(sorted(chosen)):
        messages = sorted(by_domain[domain].items())
        sample = random.Random(split_seed).sample(messages, per_domain)
        items += [(en, translations, label) for en, translations in sample]
    parts = stratified_split([label for *_, label in items], list(fractions), split_seed)
    languages = ["en", *locales]
    splits = {}
    for split, indices in zip(SPLITS, parts, strict=True):
        rows = {"id": [], "text": [], "label": [], "lang": []}
        for lang in languages:
            for i in indices:
                en, translations, label = items[i]
                rows["id"].append(f"m{i}")
                rows["text"].append(en if lang == "en" else translations[lang])
                rows["label"].append(label)
                rows["lang"].append(lang)
        splits[split] = Dataset.from_dict(rows)
    # one-word messages (menu items, labels): a word list per language apart from the sentences
    lexicon = [(word, lang, en, "en") for lang, locale in locales.items()
               for en, word in word_pairs(locale, lang, Path(root))]  # fmt: skip
    source = f"{root}/{{{','.join(locales.values())}}}"
    return DatasetSplits(splits=splits, label_names=sorted(chosen), fingerprint=fingerprint,
                        attribution=ATTRIBUTION, lexicon=lexicon,
                        info={"source": source})  # fmt: skip


def main(argv: list[str]) -> None:
    """Per language: locale, catalogues, sentence messages; then what all of them share."""
    langs = argv or ["zh", "ja", "de", "fr", "es", "ru", "ko", "vi"]
    print("| lang | locale | catalogues | sentences | words |\n|---|---|---|---|---|")
    for lang in langs:
        found = domain_messages({lang: locale_of(lang)})
        words = len(word_pairs(locale_of(lang), lang))
        print(f"| {lang} | {locale_of(lang)} | {len(found)} | "
              f"{sum(map(len, found.values()))} | {words} |")  # fmt: skip
    together = domain_messages({lang: locale_of(lang) for lang in langs})
    print(
        f"\nIn all of {', '.join(langs)}: {sum(map(len, together.values()))} messages in "
        f"{len(together)} catalogues; with 250+: "
        f"{len(usable_domains(together, 250))}, 100+: {len(usable_domains(together, 100))}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
