"""Translate-test (XTREME's and XLM-R's third baseline): every target language's dev and test
sets are also translated into the source language and scored by the same model, under their
own names (`test/acc/zh.translate_test`), through the source language's head where a strategy
has per-language parts.

The translator reads dev/test *text* (that is what translate-test is), never labels; its reads
are recorded with the purpose `test_translation` and the protocol says `translate-test`. A row
the translator cannot translate is scored untranslated and counted, never dropped. Where the
data holds gold translations of those rows, translation quality is logged as chrF.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xlt.data.access import Purpose
from xlt.errors import ConfigError

if TYPE_CHECKING:
    from datasets import Dataset

SUFFIX = ".translate_test"  # `test/acc/zh.translate_test`: MLflow names allow no "@"


def translated_name(lang: str) -> str:
    return f"{lang}{SUFFIX}"


def is_translated(lang: str) -> bool:
    return lang.endswith(SUFFIX)


def original_language(lang: str) -> str:
    return lang.removesuffix(SUFFIX)


@dataclass
class TranslatedSet:
    rows: Dataset  # the evaluation rows, text translated (or kept where it could not be)
    untranslated: int
    chrf: float | None  # against the data's gold translations, where it has them


def evaluation_translator(translator, split: str):
    """The translator, reading `split` (dev or test) texts: its reads are recorded as such."""
    reader = copy.copy(translator)
    reader.split = split
    return reader


def translate_rows(rows: Dataset, translator, split: str, lang: str, source: str, data):
    """`rows` (one language's dev or test rows) with their text in the source language."""
    reader, ids = evaluation_translator(translator, split), list(map(str, rows["id"]))
    untranslated, translated = 0, rows
    for column in ("text", "text_pair"):  # a pair task's second text too (XNLI's hypothesis)
        if column not in rows.column_names:
            continue
        outputs = reader.translate(list(rows[column]), ids, lang, source, data)
        texts = [out if out else text for out, text in zip(outputs, rows[column], strict=True)]
        missed = sum(1 for out in outputs if not out)
        if outputs and missed == len(outputs):
            raise ConfigError(f"evaluation.translate_test: translator {reader.name} translated "
                              f"none of the {len(outputs)} {lang} {split} rows into {source}: "
                              "its scores would be the untranslated ones under another name; "
                              "choose another evaluation.translator")  # fmt: skip
        untranslated += missed
        translated = translated.remove_columns(column).add_column(column, texts)
    quality = chrf(list(translated["text"]), rows, split, source, data)
    return TranslatedSet(translated, untranslated, quality)


def chrf(texts: list[str], rows: Dataset, split: str, source: str, data) -> float | None:
    """chrF of the translations against the source-language rows of the same items (gold
    translations), when the data has them: text only, recorded as read for this purpose."""
    if source not in data.languages_of(split):
        return None
    gold_rows = data.subset(split, source, purpose=Purpose.test_translation, labelled=False,
                            detail="translate-test: gold translations for chrF")  # fmt: skip
    gold = dict(zip(map(str, gold_rows["id"]), gold_rows["text"], strict=True))
    pairs = [(text, gold[str(i)]) for text, i in zip(texts, rows["id"], strict=True)
             if str(i) in gold]  # fmt: skip
    if not pairs:
        return None
    from sacrebleu.metrics import CHRF

    hypotheses, references = zip(*pairs, strict=True)
    return float(CHRF().corpus_score(list(hypotheses), [list(references)]).score)
