"""Translators for augmentation: the data's own gold translations (`parallel`), word-by-word
with a bilingual lexicon (`dictionary`), or a MarianMT model from the hub (`marian`; NLLB and
other many-to-many models need language codes it does not set).

Each translates a batch of training rows into one language and returns None where it cannot.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Annotated

from xlt.augment.dictionary_sources import DictionarySource
from xlt.augment.lexicon import Lexicon, join, segment
from xlt.config.bounds import Range
from xlt.data.access import Purpose
from xlt.data.dataset_splits import DatasetSplits
from xlt.hub import load_from_hub, preflight


class Translator:
    """Translates a batch of TRAIN texts into one language (None where it cannot)."""

    name = "base"
    downloads_from_hub = False  # a hub model: offline, it fails when first used

    def translate(
        self, texts: list[str], ids: list[str], src: str, tgt: str, data: DatasetSplits
    ) -> list[str | None]:
        raise NotImplementedError

    def params(self) -> dict:
        return {}

    def metrics(self, tgt: str) -> dict[str, float]:
        """What translating into `tgt` measured (logged as `augment/<key>`); none by default."""
        return {}

    def cannot_translate(self, src: str, tgt: str, data: DatasetSplits, split: str) -> str | None:
        """Why `split` texts of `src` cannot be translated into `tgt` (None: it can, or only
        trying tells), said before anything loads."""
        return None

    def describe(self, src: str, tgt: str) -> str:
        """What translated src -> tgt, as the data-access record names it."""
        return self.name

    def fingerprint(self) -> str:
        key = json.dumps([self.name, self.params()], sort_keys=True, default=str)
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    split = "train"  # what the texts are: TRAIN rows (augmentation) or dev/test (translate-test)

    def record(self, data: DatasetSplits, src: str, tgt: str, rows: int) -> None:
        """Into the run's data-access record: `rows` TRAIN texts translated src -> tgt (target
        text made for training), or dev/test texts of `src` translated to be scored."""
        if self.split != "train":
            detail = f"translate-test {self.describe(src, tgt)}:{src}->{tgt}"
            data.access.record(self.split, src, labelled=False, rows=rows, detail=detail,
                               purpose=Purpose.test_translation)  # fmt: skip
            return
        data.access.record("train", tgt, labelled=False, purpose=Purpose.translation, rows=rows,
                           detail=f"{self.describe(src, tgt)}:{src}->{tgt}")  # fmt: skip


class ParallelTranslator(Translator):
    """Gold translations from the dataset (same item id in another language), TRAIN split only:
    the translate-train upper bound."""

    name = "parallel"

    def translate(self, texts, ids, src, tgt, data):
        self.record(data, src, tgt, len(texts))
        purpose = Purpose.translation if self.split == "train" else Purpose.test_translation
        target = data.subset(self.split, tgt, purpose=purpose, labelled=False,
                             detail=f"{self.name}: gold translations looked up by id")  # fmt: skip
        gold = dict(zip(target["id"], target["text"], strict=True))
        return [gold.get(i) for i in ids]

    def cannot_translate(self, src, tgt, data, split):
        if tgt not in data.languages_of(split):
            return f"the data has no {tgt} {split} rows to take gold translations from"
        return None


class DictionaryTranslator(Translator):
    """Word-by-word with the data's lexicon (HSK glosses), the user's dictionaries and,
    optionally, CC-CEDICT. Chinese is segmented with the data's gold tokens where it has them,
    jieba otherwise.

    `dictionaries`: by language pair (`{en-de: ...}`: English words, German translations) or
    by the language of the second column (`{de: ...}`: the first column in any other language
    of the data); each a file in MUSE's format (`word translation` per line), `gettext` (the
    language's one-word catalogue messages) or the id of an `xlt-align task=bli` run (the table
    it induced). Both directions are used (a one-word translation gives the reverse entry too).
    `tracking_uri`: where a run id is looked up."""

    name = "dictionary"

    def __init__(
        self,
        cedict: bool = False,
        keep_unknown: bool = True,
        dictionaries: dict[str, str] | None = None,
        tracking_uri: str | None = None,
    ) -> None:
        self.cedict, self.keep_unknown = cedict, keep_unknown
        # In the order given: a word two dictionaries translate takes the first one's entry.
        self.sources = [DictionarySource(str(key), str(spec), tracking_uri)
                        for key, spec in (dictionaries or {}).items()]  # fmt: skip
        self._lexicons: dict[int, Lexicon] = {}

    def params(self) -> dict:
        files = {source.key: source.digest() for source in self.sources}
        return {"cedict": self.cedict, "keep_unknown": self.keep_unknown, "dictionaries": files}

    def user_entries(self, languages: list[str]) -> list[tuple[str, str, str, str]]:
        """(word, its language, translation, its language) from every dictionary."""

        entries = []
        for source in self.sources:
            tgt = source.target_lang
            firsts = source.first_column_languages(languages)
            entries += [(word, lang, translation, tgt) for word, translation in source.pairs
                        for lang in firsts]  # fmt: skip
        return entries

    def describe(self, src: str, tgt: str) -> str:
        """The dictionaries that hold the pair (either direction), for the data-access record."""
        names = [s.describe() for s in self.sources
                 if {s.source_lang or src, s.target_lang} == {src, tgt}]  # fmt: skip
        names += ["cc-cedict"] if self.cedict and {src, tgt} == {"en", "zh"} else []
        return f"{self.name}[{', '.join(names) or 'data word list'}]"

    def lexicon(self, data: DatasetSplits) -> Lexicon:
        key = id(data)
        if key not in self._lexicons:
            entries = [*data.lexicon, *self.user_entries(data.languages)]
            self._lexicons[key] = Lexicon.with_cedict(entries) if self.cedict else Lexicon(entries)
        return self._lexicons[key]

    def cannot_translate(self, src, tgt, data, split):
        if not self.lexicon(data).table.get((src, tgt)):
            return f"the data's word list has no {src}->{tgt} entries"
        return None

    def translate_words(self, words: list[str], src: str, tgt: str, lexicon: Lexicon) -> list:
        out = []
        for word in words:
            found = lexicon.lookup(word, src, tgt)
            if found is not None:
                out.append(found)
            elif self.keep_unknown:
                out.append(word)
        return out

    def translate(self, texts, ids, src, tgt, data):
        self.record(data, src, tgt, len(texts))
        lexicon = self.lexicon(data)
        results = []
        for text in texts:
            words = segment(text, src, data.segmentation, lexicon.table.get((src, tgt)))
            translated = self.translate_words(words, src, tgt, lexicon)
            changed = any(lexicon.lookup(w, src, tgt) for w in words)
            results.append(join(translated, tgt) if changed else None)
        return results


class MarianTranslator(Translator):
    """A transformers seq2seq translation model by hub name, batched generation. The name may use
    {src} and {tgt}: `Helsinki-NLP/opus-mt-{src}-{tgt}`."""

    name = "marian"
    downloads_from_hub = True

    def __init__(
        self,
        model: str = "Helsinki-NLP/opus-mt-{src}-{tgt}",
        batch_size: Annotated[int, Range(ge=1)] = 32,
        max_length: Annotated[int, Range(ge=1)] = 256,
        num_beams: Annotated[int, Range(ge=1)] = 4,
    ) -> None:
        self.model_template, self.batch_size = model, batch_size
        self.max_length, self.num_beams = max_length, num_beams
        self._models: dict[str, tuple] = {}

    def params(self) -> dict:
        return {"model": self.model_template, "beams": self.num_beams, "max": self.max_length}

    def load(self, src: str, tgt: str):

        name = self.model_template.format(src=src, tgt=tgt)
        alternative = "augmentation translator=parallel or translator=dictionary"
        if name not in self._models:
            preflight("model", name, alternative)  # fails in a second when offline

            def load():
                from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

                return AutoTokenizer.from_pretrained(name), AutoModelForSeq2SeqLM.from_pretrained(
                    name
                )

            self._models[name] = load_from_hub("model", name, alternative, load)
        return self._models[name]

    @cached_property
    def device(self) -> str:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def translate(self, texts, ids, src, tgt, data):
        import torch

        self.record(data, src, tgt, len(texts))
        tokenizer, model = self.load(src, tgt)
        model.to(self.device).eval()
        out: list[str | None] = []
        for start in range(0, len(texts), self.batch_size):
            batch = tokenizer(
                texts[start : start + self.batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
            )
            with torch.no_grad():
                generated = model.generate(
                    **batch.to(self.device), num_beams=self.num_beams, max_length=self.max_length
                )
            out.extend(tokenizer.batch_decode(generated, skip_special_tokens=True))
        return out
