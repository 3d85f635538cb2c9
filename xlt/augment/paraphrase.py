"""Paraphrasing by round-trip translation of the source training data through a pivot."""

from __future__ import annotations

from xlt.augment.back_translation import round_trip
from xlt.augment.base import Augmentation, concat, originals
from xlt.augment.translators import Translator


class Paraphrase(Augmentation):
    """Source rows paraphrased by a round trip through a pivot language."""

    name = "paraphrase"

    def __init__(self, translator: Translator, pivot: str | None = None) -> None:
        self.translator, self.pivot = translator, pivot

    def params(self) -> dict:
        return {"translator": self.translator.fingerprint(), "pivot": self.pivot}

    def translation_pairs(self, ctx):
        pivot = self.pivot or ctx.targets[0]
        return [(ctx.source, pivot), (pivot, ctx.source)]

    def coverage_of(self, built, train, data, ctx):
        """The share of source rows the round trip changed."""
        changed = {o for o, aug in zip(built["orig_id"], built["aug"], strict=True)
                   if aug == self.name}  # fmt: skip
        return {ctx.source: len(changed) / max(1, len(train))}

    def build(self, train, data, ctx):
        pivot = self.pivot or ctx.targets[0]
        return concat(
            [
                originals(train),
                round_trip(train, data, self.translator, ctx.source, pivot, self.name),
            ]
        )
