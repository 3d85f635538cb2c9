"""Translate-train: the source training data translated into each target language, trained on
together with the source data (or alone)."""

from __future__ import annotations

from xlt.augment.base import Augmentation, concat, originals, rows
from xlt.augment.translators import Translator


def translated(train, data, translator: Translator, src: str, tgt: str, aug: str):
    outputs = translator.translate(train["text"], train["id"], src, tgt, data)
    keep = [i for i, text in enumerate(outputs) if text]
    return rows(
        [f"{train['id'][i]}#{aug}-{tgt}" for i in keep],
        [outputs[i] for i in keep],
        [train["label"][i] for i in keep],
        [tgt] * len(keep),
        [train["id"][i] for i in keep],
        aug,
    )


class TranslateTrain(Augmentation):
    """Source TRAIN rows translated into each target language, trained on with (or without) the
    originals."""

    name = "translate_train"
    reports_untranslated = True

    def __init__(
        self, translator: Translator, keep_source: bool = True, languages: list[str] | None = None
    ) -> None:
        self.translator, self.keep_source = translator, keep_source
        self.languages = list(languages) if languages else None

    def params(self) -> dict:
        return {
            "translator": self.translator.fingerprint(),
            "keep_source": self.keep_source,
            "languages": self.languages,
        }

    def translation_pairs(self, ctx):
        return [(ctx.source, lang) for lang in self.languages or ctx.targets]

    def build(self, train, data, ctx):
        parts = [originals(train)] if self.keep_source else []
        for lang in self.languages or ctx.targets:
            parts.append(translated(train, data, self.translator, ctx.source, lang, self.name))
        return concat(parts)
