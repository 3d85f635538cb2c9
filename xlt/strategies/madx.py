"""MAD-X (Pfeiffer et al., 2020): a language adapter per language, trained with masked language
modelling on unlabelled text of that language; a task adapter and the head trained on labelled
source data above the frozen source language adapter; each language evaluated through its own
language adapter under the same task adapter (zero-shot: the target's adapter saw target TEXT,
never target labels). Language adapters are cached and logged, so one per language serves
every task and seed; `language_adapters.<lang>` loads one from a folder or a run id."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from xlt.data.access import Purpose
from xlt.data.dataset_splits import DatasetSplits
from xlt.data.text_files import read_sentences
from xlt.data.training_data import TrainingData
from xlt.errors import ConfigError
from xlt.models.adapter_stack import (
    TASK_ADAPTER,
    AdapterShape,
    AdapterStack,
    adapter_shape,
    language_adapter,
)
from xlt.models.adapter_store import (
    ARTIFACT_DIR,
    FORMAT,
    cache_key,
    corpus_fingerprint,
    load_adapter,
    resolve_reference,
    save_adapter,
)
from xlt.models.feature_cache import weights_digest
from xlt.models.init_encoder import RUN_ID
from xlt.models.network import TransferNetwork, encoder_architecture
from xlt.strategies.base import Pretrained, RunContext, StepContext, TransferStrategy
from xlt.tasks import CLASSIFICATION
from xlt.training.masked_lm import MaskedLMSettings, check_tokenizer, train_masked_lm

log = logging.getLogger(__name__)


class MadX(TransferStrategy):
    """MAD-X: a LoRA language adapter per language (masked LM on its unlabelled text) under one
    task adapter; each language is read through its own language adapter."""

    name = "madx"
    tasks = (*CLASSIFICATION, "tagging")  # QA's unlabelled text is not one sentence per row

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable | None = None,
        language_adapter: AdapterShape | dict | None = None,
        task_adapter: AdapterShape | dict | None = None,
        mlm: MaskedLMSettings | dict | None = None,
        corpus: dict[str, str] | None = None,
        language_adapters: dict[str, str] | None = None,
        cache_dir: str | None = None,
        max_length: int = 128,
        text_prefix: str = "",
    ) -> None:
        super().__init__(optimizer, scheduler)
        self.language_shape = adapter_shape(language_adapter)
        self.task_shape = adapter_shape(task_adapter)
        self.mlm = MaskedLMSettings(**dict(mlm or {}))
        self.corpus = {str(k): str(v) for k, v in (corpus or {}).items()}
        self.references = {str(k): str(v) for k, v in (language_adapters or {}).items()}
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.max_length, self.text_prefix = max_length, text_prefix
        self.folders: dict[str, Path] = {}  # resolved language_adapters references
        self.stack: AdapterStack | None = None
        self.base_weights = ""  # digest of the encoder the language adapters are fit to

    # --- data -------------------------------------------------------------------------------
    def unlabelled_languages(self, source: str, targets: list[str]) -> list[str]:
        """TRAIN text of every language whose adapter is neither given nor built from a corpus."""
        return [lang for lang in [source, *targets]
                if lang not in self.corpus and lang not in self.references]  # fmt: skip

    def check(self, data: DatasetSplits, source: str, targets: list[str]) -> None:
        self.source, self.targets = source, list(targets)
        has_train = data.languages_of("train")
        for lang in self.unlabelled_languages(source, targets):
            if lang not in has_train:
                raise ConfigError(f"strategy=madx: no language adapter for {lang!r} (the data has "
                                  f"no {lang!r} train text); give strategy.corpus.{lang}=PATH "
                                  f"(one sentence per line) or strategy.language_adapters."
                                  f"{lang}=RUN_ID|PATH")  # fmt: skip
        for lang, ref in self.references.items():  # folders now; run ids with the store
            if not RUN_ID.fullmatch(ref):
                self.folders[lang] = resolve_reference(ref, lang)
        for lang, path in self.corpus.items():
            read_sentences(path, f"strategy.corpus.{lang}")  # fails fast on a bad file

    def setup_run(self, run: RunContext) -> dict[str, str]:
        for lang, ref in self.references.items():
            if lang not in self.folders:
                self.folders[lang] = resolve_reference(ref, lang, run.client)
        return {}

    # --- model ------------------------------------------------------------------------------
    def prepare(self, net: TransferNetwork) -> None:
        from peft import get_peft_model

        layers = int(net.encoder.config.num_hidden_layers)
        self.base_weights = weights_digest(net.encoder)  # what the cached adapters were fit to
        net.encoder = get_peft_model(net.encoder, self.task_shape.lora_config(layers),
                                     adapter_name=TASK_ADAPTER)  # fmt: skip
        self.stack = AdapterStack(net.encoder)
        net.language_router = self.stack.route

    def pretrain(self, net: TransferNetwork, data: TrainingData, tokenizer) -> Pretrained:
        """Every language's adapter: loaded (given, or cached) or trained with MLM and cached."""
        done = Pretrained()
        for lang, ref in self.references.items():  # a run id without a store: said here
            if lang not in self.folders:
                self.folders[lang] = resolve_reference(ref, lang)
        for lang in [self.source, *self.targets]:
            folder, how, stats = self._language_adapter(net, lang, data, tokenizer)
            done.artifacts[f"{ARTIFACT_DIR}/{lang}"] = folder
            done.tags[f"strategy.language_adapter.{lang}"] = how
            done.metrics.update({f"madx/mlm_{k}/{lang}": v for k, v in stats.items()})
        self.stack.read(self.source)  # from here on only the task adapter and the head train
        return done

    def _language_adapter(self, net, lang: str, data: TrainingData, tokenizer):
        """(folder, how it was obtained, MLM statistics) for `lang`: given, cached or trained."""
        encoder_id = encoder_architecture(net.encoder, net.source)
        if lang in self.folders:
            return self._load_given(net, lang, data, encoder_id)
        rows = self._corpus_rows(lang, data, tokenizer)
        meta = {"format": FORMAT, "lang": lang, "encoder": encoder_id, "rows": len(rows),
                "encoder_weights": self.base_weights,
                "corpus": self.corpus.get(lang, f"train text ({lang})"),
                "corpus_fingerprint": corpus_fingerprint(rows),
                "adapter": self.language_shape.describe(), "mlm": self.mlm.describe()}  # fmt: skip
        folder = self._cache_folder(lang, meta)
        if folder.is_dir():
            load_adapter(net.encoder, language_adapter(lang), folder, encoder_id)
            self.stack.languages.append(lang)
            return folder, "cached", {"steps": 0.0}
        stats = self._train(net, lang, rows, tokenizer)
        meta["mlm_loss"] = [stats["loss_first"], stats["loss_last"]]
        return save_adapter(net.encoder, language_adapter(lang), folder, meta), "trained", stats

    def _load_given(self, net, lang: str, data: TrainingData, encoder_id: dict):
        """`strategy.language_adapters.<lang>`: no MLM; the record says what it was built from."""
        meta = load_adapter(net.encoder, language_adapter(lang), self.folders[lang], encoder_id)
        data.access.record("language_adapter", lang, labelled=False, rows=meta["rows"],
                           purpose=Purpose.training, detail=self.references[lang])  # fmt: skip
        self.stack.languages.append(lang)
        return self.folders[lang], f"loaded {self.references[lang]}", {"steps": 0.0}

    def _train(self, net, lang: str, rows: list[list[int]], tokenizer) -> dict[str, float]:
        """A new adapter for `lang`, alone active, trained with masked language modelling."""
        check_tokenizer(tokenizer)
        self.stack.add_language(lang, self.language_shape, net.encoder.config.num_hidden_layers)
        self.stack.train_language(lang)
        stats = train_masked_lm(net.encoder, tokenizer, rows, self.mlm)
        log.info("language adapter %s: MLM loss %.3f -> %.3f over %d steps", lang,
                 stats["loss_first"], stats["loss_last"], self.mlm.steps)  # fmt: skip
        return stats

    def _corpus_rows(self, lang: str, data: TrainingData, tokenizer) -> list[list[int]]:
        if lang not in self.corpus:
            return [list(ids) for ids in data.unlabelled[lang]["input_ids"]]
        lines = read_sentences(self.corpus[lang], f"strategy.corpus.{lang}")
        data.access.record("corpus", lang, labelled=False, purpose=Purpose.training,
                           rows=len(lines), detail=self.corpus[lang])  # fmt: skip
        encoded = tokenizer([self.text_prefix + line for line in lines], truncation=True,
                            max_length=self.max_length)  # fmt: skip
        return [list(ids) for ids in encoded["input_ids"]]

    def _cache_folder(self, lang: str, meta: dict[str, Any]) -> Path:
        """Where this adapter lives (a fresh temporary folder when no cache_dir is set)."""
        root = self.cache_dir or Path(tempfile.mkdtemp(prefix="xlt-adapters-"))
        return root / f"{lang}-{cache_key(meta)}"

    # --- training ---------------------------------------------------------------------------
    def training_loss(self, net, task, batch, ctx: StepContext):
        self.stack.read(self.source)  # evaluation may have left another language active
        return task.loss(net, batch), {}

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "strategy.language_r": str(self.language_shape.r),
                "strategy.task_r": str(self.task_shape.r),
                "strategy.mlm_steps": str(self.mlm.steps),
                "strategy.skip_last_layer": str(self.language_shape.skip_last_layer)}  # fmt: skip
