"""CoSDA-ML-style dynamic code-switching (Qin et al. 2020): in each source sentence a fraction
of the words that have a dictionary translation is replaced by that translation in a randomly
chosen target language, drawn anew every time the sentence is batched (so every epoch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from datasets import Dataset

from xlt.augment.base import Augmentation, AugmentContext, BatchTransform, originals
from xlt.augment.lexicon import NO_SPACE, segment
from xlt.augment.translators import DictionaryTranslator
from xlt.config.bounds import Range
from xlt.data.dataset_splits import DatasetSplits
from xlt.errors import ConfigError


class SwitchTransform(BatchTransform):
    """Switches the source rows of each training batch; its random draws continue from batch to
    batch (each epoch sees new switches) and are saved in checkpoints."""

    def __init__(self, augmentation: CodeSwitch, encode: Callable[[str], list[int]],
                 source: str, seed: int) -> None:  # fmt: skip
        self.augmentation, self.encode, self.source = augmentation, encode, source
        self.rng = np.random.default_rng(seed)
        self.replaced = self.eligible = 0

    def __call__(self, rows: list[dict]) -> list[dict]:
        out = []
        for row in rows:
            if row["lang"] == self.source:
                text, replaced, eligible = self.augmentation.switch(row["text"], row["lang"],
                                                                    self.rng)  # fmt: skip
                self.replaced, self.eligible = self.replaced + replaced, self.eligible + eligible
                row = {**row, "input_ids": self.encode(text)}
            out.append(row)
        return out

    def counters(self) -> dict[str, float]:
        return {"n_switched_words": self.replaced,
                "switch_rate": self.replaced / max(1, self.eligible)}  # fmt: skip

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "counts": [self.replaced, self.eligible]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.replaced, self.eligible = state["counts"]


class CodeSwitch(Augmentation):
    """Dynamic code-switching (CoSDA-ML): dictionary translations of source words, redrawn every
    batch."""

    name = "code_switch"

    def __init__(
        self,
        translator: DictionaryTranslator,
        ratio: Annotated[float, Range(ge=0, le=1)] = 0.5,
        languages: list[str] | None = None,
    ) -> None:
        if not isinstance(translator, DictionaryTranslator):
            raise ConfigError("augmentation code_switch needs translator=dictionary")
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError(f"augmentation.ratio={ratio}: must be within [0, 1]")
        self.translator, self.ratio = translator, ratio
        self.languages = list(languages) if languages else None

    def params(self) -> dict:
        return {
            "translator": self.translator.fingerprint(),
            "ratio": self.ratio,
            "languages": self.languages,
        }

    def translation_pairs(self, ctx: AugmentContext) -> list[tuple[str, str]]:
        return [(ctx.source, lang) for lang in self.languages or ctx.targets]

    def apply(self, train: Dataset, data: DatasetSplits, ctx: AugmentContext) -> Dataset:
        self.data, self.ctx = data, ctx
        self.refuse_unchangeable(data, ctx)
        self.lexicon = self.translator.lexicon(data)
        self.check_coverage(self.switchable(train["text"], ctx))
        for lang in self.languages or ctx.targets:  # the word list of TRAIN glosses
            via = self.translator.describe(ctx.source, lang)
            detail = f"code_switch {via}:{ctx.source}->{lang}"
            data.access.record("train", lang, labelled=False, purpose="dictionary",
                               rows=len(train), detail=detail)  # fmt: skip
        self.cache_status = "dynamic"
        return originals(train)

    def switchable(self, texts: list[str], ctx: AugmentContext) -> dict[str, float]:
        """Per target language: the share of source rows with a word its dictionary has (the
        rows switching can change at all)."""
        words = [segment(text, ctx.source, self.data.segmentation) for text in texts]
        return {lang: sum(any(self.lexicon.lookup(w, ctx.source, lang) is not None for w in row)
                          for row in words) / max(1, len(words))
                for lang in self.languages or ctx.targets}  # fmt: skip

    def batch_transform(self, encode, ctx: AugmentContext) -> SwitchTransform:
        return SwitchTransform(self, encode, ctx.source, ctx.seed)

    def switch(self, text: str, lang: str, rng: np.random.Generator) -> tuple[str, int, int]:
        """(new text, words replaced, words that could have been)."""
        targets = self.languages or self.ctx.targets
        words = segment(text, lang, self.data.segmentation)
        out, replaced, eligible = [], 0, 0
        for word in words:
            tgt = targets[int(rng.integers(len(targets)))]
            translation = self.lexicon.lookup(word, lang, tgt)
            if translation is not None:
                eligible += 1
                if rng.random() < self.ratio:
                    out.append(translation)
                    replaced += 1
                    continue
            out.append(word)
        joined = ("" if lang in NO_SPACE else " ").join(out)
        return joined, replaced, eligible
