"""A second EN-ZH source, offline, that is neither HSK nor CC-CEDICT: Debian's Chinese
translations of software messages (the gettext catalogues under /usr/share/locale that apt,
coreutils, GTK and others install). Messages give parallel sentences; one-word messages give a
bilingual dictionary in MUSE's format.

    python -m xlt.align.gettext_corpus --pairs pairs.tsv --dictionary en-zh.gettext.txt
"""

from __future__ import annotations

import argparse
import gettext
import random
import re
from collections import Counter
from pathlib import Path

CATALOGUES = Path("/usr/share/locale")
HAN = re.compile(r"[\u4e00-\u9fff]")
HAN_WORD = re.compile(r"^[\u4e00-\u9fff]{1,4}$")
ENGLISH_WORD = re.compile(r"^[A-Za-z]{2,20}$")


def catalogue_entries(locale: str = "zh_CN", root: Path = CATALOGUES):
    """(English message, translation) of every readable catalogue, in file order."""
    for path in sorted((root / locale / "LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except (OSError, ValueError, UnicodeDecodeError):
            continue  # a catalogue in another encoding or format
        for source, target in catalog.items():
            if isinstance(source, str) and isinstance(target, str) and source and target:
                yield source, target  # (plural forms are keyed by tuples: left out)


def message_pairs(locale: str = "zh_CN", seed: int = 0) -> list[tuple[str, str]]:
    """Messages of 4-12 words without format codes, one translation each, shuffled."""
    pairs: dict[str, str] = {}
    for en, zh in catalogue_entries(locale):
        text = en + zh
        if (
            4 <= len(en.split()) <= 12
            and "%" not in en
            and HAN.search(zh)
            and not any(c in text for c in "\n\t")
        ):
            pairs[en.strip()] = zh.strip()
    items = sorted(pairs.items())
    random.Random(seed).shuffle(items)
    return items


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, help="write message pairs (TSV) here")
    parser.add_argument("--dictionary", type=Path, help="write the word dictionary here")
    args = parser.parse_args(argv)
    if args.pairs:
        pairs = message_pairs()
        args.pairs.write_text("".join(f"{en}\t{zh}\n" for en, zh in pairs), encoding="utf-8")
        print(f"{len(pairs)} message pairs -> {args.pairs}")
    if args.dictionary:
        words = word_pairs()
        args.dictionary.write_text("".join(f"{en} {zh}\n" for en, zh in words), encoding="utf-8")
        print(f"{len(words)} word pairs ({len({e for e, _ in words})} English words) -> "
              f"{args.dictionary}")  # fmt: skip


if __name__ == "__main__":
    main()
