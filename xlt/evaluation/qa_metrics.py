"""Exact match and F1 for extractive QA with the official answer normalisation: SQuAD v1.1's
(XQuAD is scored with it) and MLQA's language-specific one (articles per language; Chinese
split into characters, 'mixed segmentation')."""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from functools import cache

_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "ar": r"\sال^|ال",
}
_MIXED_SEGMENTATION = {"zh"}
_CJK = re.compile(r"[\u4e00-\u9fa5]")


@cache
def _unicode_punctuation() -> frozenset[str]:
    return frozenset(
        chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")
    ) | frozenset(string.punctuation)


def _mixed_segmentation(text: str) -> list[str]:
    """MLQA: every CJK character and punctuation mark is a token; the rest splits on spaces."""
    tokens, pending = [], ""
    punctuation = _unicode_punctuation()
    for char in text:
        if _CJK.search(char) or char in punctuation:
            tokens += pending.split()
            pending = ""
            tokens.append(char)
        else:
            pending += char
    return tokens + pending.split()


def normalize_answer(text: str, lang: str = "en", style: str = "squad") -> str:
    if style == "squad":
        text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
        return " ".join(re.sub(_ARTICLES["en"], " ", text).split())
    punctuation = _unicode_punctuation()
    text = "".join(ch for ch in text.lower() if ch not in punctuation)
    if lang in _ARTICLES:
        text = re.sub(_ARTICLES[lang], " ", text)
    tokens = _mixed_segmentation(text) if lang in _MIXED_SEGMENTATION else text.split()
    return " ".join(t for t in tokens if t.strip())


def exact_match(prediction: str, gold: str, lang: str = "en", style: str = "squad") -> float:
    return float(normalize_answer(prediction, lang, style) == normalize_answer(gold, lang, style))


def f1(prediction: str, gold: str, lang: str = "en", style: str = "squad") -> float:
    pred = normalize_answer(prediction, lang, style).split()
    ref = normalize_answer(gold, lang, style).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_over_answers(metric, prediction: str, answers: list[str], lang: str, style: str) -> float:
    """Both benchmarks score against the closest of the gold answers."""
    return max((metric(prediction, a, lang, style) for a in answers), default=0.0)
