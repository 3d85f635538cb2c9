"""Bilingual word dictionaries for lexicon induction, split into train and test by source word
(a test word never appears in training, MUSE's protocol)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from xlt.augment.lexicon import _PAREN, NOT_A_TRANSLATION

_ALPHA_WORD = re.compile(r"[a-z]+")

Pair = tuple[str, str]  # (source word, target word)


def english_senses(gloss: str) -> list[str]:
    """The single-word English senses of a gloss ('to see; to look' -> ['see', 'look'])."""
    senses = []
    for sense in _PAREN.sub("", gloss).split(";"):
        sense = sense.strip().lower().removeprefix("to ").strip()
        if _ALPHA_WORD.fullmatch(sense) and not sense.startswith(NOT_A_TRANSLATION):
            senses.append(sense)
    return senses


def zh_en_entries(cedict: bool = False) -> list[tuple[str, str]]:
    """(Chinese word, English gloss) from HSK's word glosses, plus CC-CEDICT if asked."""
    from hsk_sentences_audio import load_sentences

    entries = [(t["word"], t["gloss_en"]) for r in load_sentences() for t in r["tokens"]]
    if cedict:
        from xlt.augment.lexicon import cedict_entries

        entries += [(word, gloss) for word, _, gloss, _ in cedict_entries()]
    return entries


def hsk_dictionary(source_lang: str = "en", cedict: bool = False) -> list[Pair]:
    """Every distinct (English word, Chinese word) pair, oriented source -> target."""
    pairs = {(en, zh) for zh, gloss in zh_en_entries(cedict) for en in english_senses(gloss)}
    if source_lang == "zh":
        pairs = {(zh, en) for en, zh in pairs}
    elif source_lang != "en":
        raise ValueError(f"the HSK dictionary is en/zh, not {source_lang!r}")
    return sorted(pairs)


def split_by_source(
    pairs: Iterable[Pair], test_words: int, seed: int = 0
) -> tuple[list[Pair], list[Pair]]:
    """Hold out `test_words` source words with all their translations."""
    pairs = list(pairs)
    sources = sorted({s for s, _ in pairs})
    if test_words >= len(sources):
        raise ValueError(f"test_words={test_words} leaves no training words of {len(sources)}")
    held_out = set(random.Random(seed).sample(sources, test_words))
    train = [p for p in pairs if p[0] not in held_out]
    test = [p for p in pairs if p[0] in held_out]
    return train, test
