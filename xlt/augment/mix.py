"""Mixing: source, translated and labelled target TRAIN data in configured proportions (each a
fraction of the source set's size; above 1 samples with replacement)."""

from __future__ import annotations

from typing import Annotated

import numpy as np

from xlt.augment.base import Augmentation, concat, originals, rows
from xlt.augment.translate_train import translated
from xlt.augment.translators import Translator
from xlt.config.bounds import Range
from xlt.errors import ConfigError


def sample(ds, fraction: float, n: int, rng: np.random.Generator):
    count = int(round(fraction * n))
    if count == 0 or len(ds) == 0:
        return ds.select([])
    replace = count > len(ds)
    return ds.select(np.sort(rng.choice(len(ds), size=count, replace=replace)))


class Mix(Augmentation):
    """Source, translated and labelled target TRAIN rows in set proportions of the source size."""

    name = "mix"

    def __init__(
        self,
        translator: Translator,
        source: Annotated[float, Range(ge=0)] = 1.0,
        translated: Annotated[float, Range(ge=0)] = 1.0,
        target: Annotated[float, Range(ge=0)] = 0.0,
    ) -> None:
        if min(source, translated, target) < 0:
            raise ConfigError("augmentation mix: ratios must be >= 0")
        self.translator = translator
        self.ratios = {"source": source, "translated": translated, "target": target}

    def params(self) -> dict:
        return {"translator": self.translator.fingerprint(), **self.ratios}

    def translation_pairs(self, ctx):
        if not self.ratios["translated"]:
            return []
        return [(ctx.source, lang) for lang in ctx.targets]

    def coverage_of(self, built, train, data, ctx):
        if not self.ratios["translated"]:
            return {}  # only source and gold target rows: nothing to translate
        return super().coverage_of(built, train, data, ctx)

    def build(self, train, data, ctx):
        rng = np.random.default_rng(ctx.seed)
        n = len(train)
        parts = [sample(originals(train), self.ratios["source"], n, rng)]
        for lang in ctx.targets:
            machine = translated(train, data, self.translator, ctx.source, lang, "translate_train")
            parts.append(sample(machine, self.ratios["translated"], n, rng))
            if self.ratios["target"]:
                gold = data.subset("train", lang, ctx.limit, purpose="training")  # labelled TRAIN
                target_rows = rows(
                    gold["id"],
                    gold["text"],
                    gold["label"],
                    gold["lang"],
                    gold["id"],
                    "target_train",
                )
                parts.append(sample(target_rows, self.ratios["target"], n, rng))
        return concat(parts)
