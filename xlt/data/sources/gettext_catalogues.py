"""Debian's gettext catalogues (/usr/share/locale/<locale>/LC_MESSAGES/*.mo, installed by apt,
coreutils, git, GTK and others): software messages with their translations, offline and neither
HSK nor CC-CEDICT. xlt reads them as parallel text and dictionaries (xlt/align/gettext_corpus.py)
and as a labelled dataset (xlt/data/sources/gettext_domains.py)."""

from __future__ import annotations

import gettext
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

CATALOGUES = Path("/usr/share/locale")
HAN = re.compile(r"[\u4e00-\u9fff]")
HAN_WORD = re.compile(r"^[\u4e00-\u9fff]{1,4}$")
ENGLISH_WORD = re.compile(r"^[A-Za-z]{2,20}$")


def catalogues(locale: str = "zh_CN", root: Path = CATALOGUES) -> Iterator[tuple[str, dict]]:
    """(catalogue name, {English message: translation}) of every readable catalogue."""
    for path in sorted((root / locale / "LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except (OSError, ValueError, UnicodeDecodeError):
            continue  # a catalogue in another encoding or format
        yield (
            path.stem,
            {
                source: target
                for source, target in catalog.items()
                if isinstance(source, str) and isinstance(target, str) and source and target
            },
        )  # fmt: skip  (plural forms: tuple keys)


def catalogue_entries(locale: str = "zh_CN", root: Path = CATALOGUES):
    """(English message, translation) of every readable catalogue, in file order."""
    for _, entries in catalogues(locale, root):
        yield from entries.items()


def is_sentence(en: str, zh: str) -> bool:
    """A message of 4-12 words without format codes or line breaks, translated into Chinese."""
    return (4 <= len(en.split()) <= 12 and "%" not in en and bool(HAN.search(zh))
            and not any(c in en + zh for c in "\n\t"))  # fmt: skip


def word_pairs(locale: str = "zh_CN") -> list[tuple[str, str]]:
    """One-word messages (menu items, labels): lowercased English word, Chinese word of 1-4
    characters; accelerator marks and trailing colons removed; every distinct translation."""
    pairs: Counter = Counter()
    for en, zh in catalogue_entries(locale):
        en = en.strip().replace("_", "").replace("&", "").rstrip(":.")
        zh = re.sub(r"[(（]_?[A-Za-z][)）]$", "", zh.strip().rstrip("：:。."))
        if ENGLISH_WORD.match(en) and HAN_WORD.match(zh):
            pairs[(en.lower(), zh)] += 1
    return sorted(pairs)
