"""Where the dictionary translator's word lists come from, one per language pair: your own file
in MUSE's format (a path), the gettext one-word messages of the language's Debian catalogues
(`gettext`), or the table an `xlt-align task=bli` run induced (that run's id). Align, induce,
then code-switch: a dictionary-free pipeline for any pair.

Each source names itself for the run's data-access record and has a content digest for the
translator's fingerprint (a changed file, other catalogues or another run is another
translator)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from xlt.align.dictionary import read_dictionary
from xlt.data.sources.gettext_catalogues import CATALOGUES, locale_of, word_pairs
from xlt.errors import ConfigError, DataError
from xlt.models.init_encoder import RUN_ID
from xlt.tracking.store import run_in_store

Pair = tuple[str, str]
GETTEXT = "gettext"
INDUCED_TAG = "induced_dictionary"  # what an xlt-align task=bli run tags (its table's file)


@dataclass(frozen=True)
class DictionarySource:
    """One `augmentation.translator.dictionaries` entry: `key` is `src-tgt` or `tgt`, `spec`
    a path, `gettext` or a bli run's id."""

    key: str
    spec: str
    tracking_uri: str | None = None

    @property
    def source_lang(self) -> str:
        """The first column's language ('' where the key names only the second)."""
        return self.key.rpartition("-")[0]

    @property
    def target_lang(self) -> str:
        return self.key.rpartition("-")[2]

    def first_column_languages(self, languages: list[str]) -> list[str]:
        """The key's first language; without one, English for gettext, the induced pair's source
        for a run, and every other language of the data for a file."""
        if self.source_lang:
            return [self.source_lang]
        if self.kind == "gettext":
            return ["en"]
        if self.kind == "run":
            return [self.local_file.name.removeprefix("induced-").split("-")[0]]
        return [lang for lang in languages if lang != self.target_lang]

    @property
    def kind(self) -> str:
        if self.spec == GETTEXT:
            return "gettext"
        return "run" if RUN_ID.match(self.spec) else "file"

    @cached_property
    def pairs(self) -> list[Pair]:
        """(first-column word, its translation) pairs, oriented as the key says."""
        if self.kind == "gettext":
            return self.gettext_pairs()
        return read_dictionary(self.local_file)

    def gettext_pairs(self) -> list[Pair]:
        langs = (self.source_lang or "en", self.target_lang)
        if "en" not in langs:
            raise ConfigError(f"augmentation.translator.dictionaries.{self.key}=gettext: the "
                              "catalogues pair English with one language; use en-<lang> or "
                              "<lang>")  # fmt: skip
        other = langs[1] if langs[0] == "en" else langs[0]
        pairs = word_pairs(locale_of(other), other)
        if not pairs:
            raise DataError(f"augmentation.translator.dictionaries.{self.key}=gettext: "
                            f"{CATALOGUES}/{locale_of(other)} has no one-word messages; "
                            f"install Debian packages with {other} translations")  # fmt: skip
        return pairs if langs[0] == "en" else [(o, en) for en, o in pairs]

    @cached_property
    def local_file(self) -> Path:
        """The file itself, or the induced table downloaded from the bli run."""
        if self.kind == "run":
            return self.induced_table()
        file = Path(self.spec).expanduser()
        if not file.is_file():
            raise ConfigError(f"augmentation.translator.dictionaries.{self.key}: file not "
                              f"found: {file}")  # fmt: skip
        return file

    def induced_table(self) -> Path:
        """The table an `xlt-align task=bli` run exported (`induced-<src>-<tgt>.txt`), refused
        when the run is not a bli run or induced another pair."""
        from mlflow import MlflowClient

        client = MlflowClient(self.tracking_uri)
        run = run_in_store(client, self.spec, f"augmentation.translator.dictionaries.{self.key}")
        name = Path(run.data.tags.get(INDUCED_TAG, "")).name
        if not name:
            raise ConfigError(f"run {self.spec} induced no dictionary (no {INDUCED_TAG} tag): "
                              "give the id of an `xlt-align task=bli` run")  # fmt: skip
        induced_pair = name.removeprefix("induced-").removesuffix(".txt")
        if induced_pair.rpartition("-")[2] != self.target_lang or (
            self.source_lang and induced_pair != self.key
        ):
            raise ConfigError(f"run {self.spec} induced {induced_pair}, not {self.key}: "
                              f"use it as dictionaries.{induced_pair}")  # fmt: skip
        return Path(client.download_artifacts(self.spec, name))

    def digest(self) -> str:
        if self.kind == "gettext":
            content = "\n".join(f"{a}\t{b}" for a, b in self.pairs).encode()
        else:
            content = self.local_file.read_bytes()
        return hashlib.sha256(content).hexdigest()[:12]

    def describe(self) -> str:
        """For the data-access record: what was read, and its digest."""
        if self.kind == "gettext":
            other = self.target_lang if self.target_lang != "en" else self.source_lang
            where = f"gettext {locale_of(other)}"
        elif self.kind == "run":
            where = f"bli run {self.spec} {self.local_file.name}"
        else:
            where = f"file {self.local_file.name}"
        return f"{where}@{self.digest()}"
