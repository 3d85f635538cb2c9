"""Bilingual word dictionaries for lexicon induction, split into train and test by source word
(a test word never appears in training, MUSE's protocol)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

from xlt.augment.lexicon import _PAREN, NOT_A_TRANSLATION, cedict_entries
from xlt.data.sources.gettext_catalogues import CATALOGUES, locale_of, word_pairs
from xlt.data.text_files import fields_of, read_lines
from xlt.errors import ConfigError, DataError

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


def read_dictionary(path: str | Path) -> list[Pair]:
    """A bilingual dictionary file in MUSE's format: one `source target` pair per line,
    separated by tabs or spaces, UTF-8; a word with several translations is on several lines.
    Bad lines are reported with their number, not skipped."""

    lines = read_lines(path, "dictionary file")
    pairs = []
    for number, line in enumerate(lines, 1):
        fields = fields_of(line)
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(f"{path} line {number}: expected 'source target', got "
                            f"{line.strip()[:80]!r}")  # fmt: skip
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise DataError(f"{path}: no word pairs in it")
    return sorted(set(pairs))


def gettext_dictionary(source_lang: str, target_lang: str) -> list[Pair]:
    """The one-word messages of the non-English language's gettext catalogues, oriented
    source -> target (one side must be English)."""
    if "en" not in (source_lang, target_lang):
        raise ConfigError(f"task.dictionary.gettext: the catalogues pair English with another "
                          f"language, not {source_lang}-{target_lang}")  # fmt: skip
    other = target_lang if source_lang == "en" else source_lang
    pairs = word_pairs(locale_of(other), other)
    if len(pairs) < 20:
        raise DataError(f"task.dictionary.gettext: {CATALOGUES}/{locale_of(other)} has "
                        f"{len(pairs)} one-word messages; install Debian packages with "
                        f"{other} translations or give task.dictionary.train=PATH")  # fmt: skip
    return pairs if source_lang == "en" else sorted((w, en) for en, w in pairs)


def dictionary_pairs(
    files: dict | None,
    source_lang: str,
    cedict: bool,
    test_words: int,
    split_seed: int,
    target_lang: str = "zh",
) -> tuple[list[Pair], list[Pair], str]:
    """(train pairs, test pairs, where they came from): both files as given; one file split by
    source word; `gettext: true`, the catalogues' one-word messages split by source word;
    without files, HSK's glosses split by source word."""
    files = {k: v for k, v in (files or {}).items() if v}
    if files.pop("gettext", False):
        if files:
            raise ConfigError("task.dictionary.gettext=true replaces task.dictionary.train/test: "
                              "give one or the other")  # fmt: skip
        pairs = gettext_dictionary(source_lang, target_lang)
        train, test = split_by_source(pairs, test_words, split_seed)
        return train, test, "gettext one-word messages"
    if "test" in files and "train" not in files:
        raise ConfigError("task.dictionary.test needs task.dictionary.train as well")
    if "train" in files and "test" in files:
        return read_dictionary(files["train"]), read_dictionary(files["test"]), "files"
    pairs = read_dictionary(files["train"]) if files else hsk_dictionary(source_lang, cedict)
    train, test = split_by_source(pairs, test_words, split_seed)
    return train, test, "file split by source word" if files else "HSK glosses"
