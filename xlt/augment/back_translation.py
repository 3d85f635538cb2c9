"""Back-translation: text into a pivot language and back, giving label-preserving variants.
`direction: target` (default) rewrites target-language TRAIN text (target -> source -> target);
`direction: source` rewrites the source data (source -> target -> source)."""

from __future__ import annotations

from xlt.augment.base import Augmentation, concat, originals, rows
from xlt.augment.translators import Translator
from xlt.errors import ConfigError


def round_trip(ds, data, translator: Translator, lang: str, pivot: str, aug: str):
    there = translator.translate(ds["text"], ds["id"], lang, pivot, data)
    ok = [i for i, text in enumerate(there) if text]
    back = translator.translate(
        [there[i] for i in ok], [ds["id"][i] for i in ok], pivot, lang, data
    )
    keep = [(i, text) for i, text in zip(ok, back, strict=True) if text and text != ds["text"][i]]
    return rows(
        [f"{ds['id'][i]}#{aug}-{pivot}" for i, _ in keep],
        [text for _, text in keep],
        [ds["label"][i] for i, _ in keep],
        [lang] * len(keep),
        [ds["id"][i] for i, _ in keep],
        aug,
    )


class BackTranslation(Augmentation):
    """Round trips through a pivot: target TRAIN rows (with their labels) or the source rows."""

    name = "back_translation"

    def __init__(self, translator: Translator, direction: str = "target") -> None:
        if direction not in ("target", "source"):
            raise ConfigError(f"augmentation.direction={direction!r}: use target or source")
        self.translator, self.direction = translator, direction

    def params(self) -> dict:
        return {"translator": self.translator.fingerprint(), "direction": self.direction}

    def translation_pairs(self, ctx):
        pivots = [ctx.targets[0]] if self.direction == "source" else [ctx.source]
        langs = [ctx.source] if self.direction == "source" else list(ctx.targets)
        return [
            pair for lang in langs for pivot in pivots for pair in ((lang, pivot), (pivot, lang))
        ]

    def coverage_of(self, built, train, data, ctx):
        """Per rewritten language: the share of its rows the round trip changed."""
        langs = [ctx.source] if self.direction == "source" else list(ctx.targets)
        changed: dict[str, set] = {}
        for lang, origin, aug in zip(built["lang"], built["orig_id"], built["aug"], strict=True):
            if aug == self.name:
                changed.setdefault(lang, set()).add(origin)
        sizes = {lang: len(train) if lang == ctx.source else data.count("train", lang, ctx.limit)
                 for lang in langs}  # fmt: skip
        return {lang: len(changed.get(lang, ())) / max(1, sizes[lang]) for lang in langs}

    def build(self, train, data, ctx):
        parts = [originals(train)]
        if self.direction == "source":
            parts.append(
                round_trip(train, data, self.translator, ctx.source, ctx.targets[0], self.name)
            )
            return concat(parts)
        for lang in ctx.targets:  # target TRAIN rows, with their labels
            target_train = data.subset("train", lang, ctx.limit, purpose="training")
            parts.append(
                round_trip(target_train, data, self.translator, lang, ctx.source, self.name)
            )
        return concat(parts)
