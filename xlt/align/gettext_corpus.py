"""Parallel text and dictionaries for English and any language Debian translates software
into, offline and neither HSK nor CC-CEDICT: the gettext catalogues under /usr/share/locale
that apt, coreutils, GTK and others install. Messages give parallel sentences; one-word messages
give a bilingual dictionary in MUSE's format (what `augmentation.translator.dictionaries` and
`xlt-align task=bli` read).

    python -m xlt.align.gettext_corpus --pairs pairs.tsv --dictionary en-zh.gettext.txt
    python -m xlt.align.gettext_corpus --lang ja --dictionary en-ja.gettext.txt
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from xlt.data.sources.gettext_catalogues import (
    catalogue_entries,
    is_sentence,
    locale_of,
    word_pairs,
)


def message_pairs(lang: str = "zh", seed: int = 0) -> list[tuple[str, str]]:
    """Messages of 4-12 words without format codes, one translation each, shuffled."""
    pairs: dict[str, str] = {}
    for en, translated in catalogue_entries(locale_of(lang)):
        if is_sentence(en, translated, lang):
            pairs[en.strip()] = translated.strip()
    items = sorted(pairs.items())
    random.Random(seed).shuffle(items)
    return items


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, help="write message pairs (TSV) here")
    parser.add_argument("--dictionary", type=Path, help="write the word dictionary here")
    parser.add_argument("--lang", default="zh", help="the language code (zh: zh_CN, ja, de, ...)")
    args = parser.parse_args(argv)
    if args.pairs:
        pairs = message_pairs(args.lang)
        args.pairs.write_text("".join(f"{en}\t{zh}\n" for en, zh in pairs), encoding="utf-8")
        print(f"{len(pairs)} message pairs -> {args.pairs}")
    if args.dictionary:
        words = word_pairs(locale_of(args.lang), args.lang)
        args.dictionary.write_text("".join(f"{en} {zh}\n" for en, zh in words), encoding="utf-8")
        print(f"{len(words)} word pairs ({len({e for e, _ in words})} English words) -> "
              f"{args.dictionary}")  # fmt: skip


if __name__ == "__main__":
    main()
