"""Tokenised training sets per language (labelled, and unlabelled where a strategy wants raw
target text) and one evaluation loader per (split, language), so every language is scored
separately in every run.

Two paths that never meet: training loaders come from the strategy (through `TrainingData`,
which holds no evaluation rows) and may rewrite rows with the augmentation's train-time batch
transform; evaluation loaders are built here alone, from the prepared dev/test sets, with the
task's own collator, which nothing else can replace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from datasets import Dataset
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)
from transformers import PreTrainedTokenizerBase

from xlt.augment.base import Augmentation, AugmentContext, BatchTransform
from xlt.augment.translators import Translator
from xlt.data.access import Purpose
from xlt.data.collate import LengthGroupedBatchSampler, ResumableBatches, RowCollator
from xlt.data.dataset_splits import DatasetSplits, column_digest
from xlt.data.tokenize import count_truncated, sort_by_length
from xlt.data.training_data import TrainingData
from xlt.errors import ConfigError
from xlt.evaluation.translated_inputs import (
    is_translated,
    original_language,
    translate_rows,
    translated_name,
)
from xlt.tasks.base import ROW, EvalKey, TaskFamily


class TrainCollator:
    """The task's collator after the augmentation's train-time batch transform, if any."""

    def __init__(self, collate: Callable[[list[dict]], dict], transform: BatchTransform | None):
        self.collate, self.transform = collate, transform
        self.state_before_last: dict[str, Any] | None = None  # the transform's, for resuming

    def __call__(self, rows: list[dict]) -> dict:
        if self.transform is None:
            return self.collate(rows)
        self.state_before_last = self.transform.state_dict()
        return self.collate(self.transform(rows))

    def transform_state(self, prefetched: bool) -> dict[str, Any] | None:
        """The transform's state before the first batch not trained yet: a batch collated
        ahead (Lightning prefetches one) is redone on resume, so its draws must be too."""
        if self.transform is None:
            return None
        if prefetched and self.state_before_last is not None:
            return self.state_before_last
        return self.transform.state_dict()


class TransferDataModule(L.LightningDataModule):
    def __init__(
        self,
        data: DatasetSplits,
        tokenizer: PreTrainedTokenizerBase,
        *,
        task: TaskFamily,
        source_lang: str,
        target_langs: list[str],
        train_langs: list[str],
        unlabelled_langs: list[str],
        selection_langs: list[str],
        max_length: int,
        text_prefix: str,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int,
        limit: int | None,
        cache_dir: str | Path,
        augmentation: Augmentation | None = None,
        seed: int = 0,
        length_grouped: bool = False,
        test_translator: Translator | None = None,
    ) -> None:
        super().__init__()
        # translate-test: target dev/test sets also translated into the source language
        self.test_translator = test_translator
        self.translate_test_stats: dict[EvalKey, dict[str, float]] = {}
        self.data, self.tokenizer, self.augmentation = data, tokenizer, augmentation
        self.source_lang, self.target_langs = source_lang, list(target_langs)
        self.train_langs, self.unlabelled_langs = list(train_langs), list(unlabelled_langs)
        self.selection_langs = list(selection_langs)  # whose dev set picks the checkpoint
        self.eval_langs = [source_lang, *self.target_langs]
        self.max_length, self.text_prefix = max_length, text_prefix
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.num_workers, self.limit, self.cache_dir = num_workers, limit, cache_dir
        self.seed, self.length_grouped = seed, length_grouped
        self.task = task
        # fixed: evaluation batches use only this (the task's collation, plus row positions)
        self._eval_collate = RowCollator(task.collator(tokenizer))
        self.batch_transform: BatchTransform | None = None
        self.strategy_loader: Callable[[TrainingData], Any] | None = None  # set by the pipeline
        self.augmented: Dataset | None = None
        self.raw_train_rows: dict[str, int] = {}  # labelled TRAIN rows read per language
        # The training streams of the current fit, by name ("train", or a strategy's
        # "labelled"/"unlabelled"): their places in the epoch and collators are checkpointed.
        self.streams: dict[str, tuple[ResumableBatches, TrainCollator]] = {}
        self._train_batches_state: dict | None = None  # from a checkpoint, by stream
        self.train_sets: dict[str, Dataset] = {}
        self.unlabelled_sets: dict[str, Dataset] = {}
        self.eval_sets: dict[EvalKey, Dataset] = {}  # tokenised (QA: windows of a context)
        self.eval_examples: dict[EvalKey, Dataset] = {}  # the rows they came from
        self.truncated: dict[str, int] = {}  # "split/lang" -> texts cut at max_length

    @property
    def val_keys(self) -> list[EvalKey]:
        return self._eval_keys("dev")

    @property
    def test_keys(self) -> list[EvalKey]:
        return self._eval_keys("test")

    def _eval_keys(self, split: str) -> list[EvalKey]:
        """Every language the split has; with translate-test, each target's translated set."""
        present = self.data.languages_of(split)
        langs = [lang for lang in self.eval_langs if lang in present]
        if self.test_translator is not None:
            langs += [translated_name(lang) for lang in self.target_langs if lang in present]
        return [(split, lang) for lang in langs]

    def tokenized(self, ds: Dataset, key: list) -> Dataset:
        tokens = self.task.tokenize(
            ds,
            self.tokenizer,
            max_length=self.max_length,
            text_prefix=self.text_prefix,
            cache_dir=self.cache_dir,
            key=[self.data.fingerprint, self.limit, *key],
            train=key[0] == "train",
        )
        where = "/".join(map(str, key[:2]))
        self.truncated[where] = count_truncated(tokens, self.max_length, where)
        return tokens

    def read_train(self, lang: str, purpose: Purpose = Purpose.training) -> Dataset:
        """One language's labelled TRAIN rows, tokenised (recorded with `purpose`)."""
        rows = self.data.subset("train", lang, self.limit, purpose=purpose)
        self.raw_train_rows[lang] = len(rows)
        return self.tokenized(rows, ["train", lang])

    def setup(self, stage: str | None = None) -> None:
        if self.eval_sets:
            return
        for lang in self.train_langs:
            if lang == self.source_lang and self.augmentation is not None:
                self.train_sets[lang] = self._augmented_source()
            else:
                self.train_sets[lang] = self.read_train(lang)
        for lang in self.unlabelled_langs:  # TRAIN text, labels dropped before anything sees it
            text = self.data.subset("train", lang, self.limit, purpose="training", labelled=False)
            self.unlabelled_sets[lang] = self.tokenized(text, ["train", lang])
        for split, lang in self.val_keys + self.test_keys:
            if is_translated(lang):
                self._setup_translated(split, lang)
                continue
            chooses = split == "dev" and lang in self.selection_langs
            purpose = Purpose.selection if chooses else Purpose.evaluation
            subset = self.data.subset(split, lang, self.limit, purpose=purpose)
            self.eval_examples[(split, lang)] = subset
            features = sort_by_length(self.tokenized(subset, [split, lang]))
            self.eval_sets[(split, lang)] = features.add_column(ROW, list(range(len(features))))

    def _setup_translated(self, split: str, name: str) -> None:
        """The evaluation rows of `name`'s language, read as usual, their text translated."""
        lang = original_language(name)
        subset = self.data.subset(split, lang, self.limit, purpose=Purpose.evaluation)
        done = translate_rows(subset, self.test_translator, split, lang, self.source_lang,
                              self.data)  # fmt: skip
        self.translate_test_stats[(split, name)] = {
            "untranslated": float(done.untranslated),
            **({"chrf": done.chrf} if done.chrf is not None else {}),
        }
        self.eval_examples[(split, name)] = done.rows
        key = [split, name, self.test_translator.fingerprint()]
        features = sort_by_length(self.tokenized(done.rows, key))
        self.eval_sets[(split, name)] = features.add_column(ROW, list(range(len(features))))

    def _augmented_source(self) -> Dataset:
        """Source TRAIN rows through the augmentation (static rows, cached), plus its train-time
        batch transform if it has one."""
        raw = self.data.subset("train", self.source_lang, self.limit, purpose=Purpose.training)
        context = AugmentContext(
            self.source_lang, self.target_langs, self.seed, str(self.cache_dir), self.limit
        )
        raw = self.augmentation.apply(raw, self.data, context)
        self.augmented = raw
        self.batch_transform = self.augmentation.batch_transform(self._encode, context)
        key = ["train", self.source_lang, self.augmentation.fingerprint(), self.seed,
               column_digest(raw)]  # fmt: skip
        return self.tokenized(raw, key)

    def _encode(self, text: str) -> list[int]:
        """Token ids of one rewritten training text, as tokenisation makes them."""
        return self.tokenizer(self.text_prefix + text, truncation=True, max_length=self.max_length)[
            "input_ids"
        ]

    def _loader(self, ds: Dataset, collate, **kwargs: Any) -> DataLoader:
        columns = [c for c in (*self.task.loader_columns, ROW) if c in ds.column_names]
        return DataLoader(
            ds.with_format(columns=columns),
            collate_fn=collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            **kwargs,
        )

    def _train_loader(
        self, ds: Dataset, shuffle: bool = True, batch_sampler: Sampler | None = None
    ) -> DataLoader:
        collate = TrainCollator(self.task.collator(self.tokenizer), self.batch_transform)
        if batch_sampler is None:
            batch_sampler = self._batches(ds, shuffle)
        resumable = ResumableBatches(batch_sampler)  # its place in the epoch is checkpointed
        return self._loader(ds, collate, batch_sampler=resumable)

    def _batches(self, ds: Dataset, shuffle: bool) -> Sampler:
        """This process's training batches: length-grouped or random on one process; with
        several, a share of a shuffle all of them agree on (padded to equal counts)."""
        rank, world_size = self._shard
        if world_size > 1:
            order = DistributedSampler(ds, world_size, rank, shuffle=shuffle, seed=self.seed)
        elif shuffle and self.length_grouped and "length" in ds.column_names:
            return LengthGroupedBatchSampler(ds["length"], self.batch_size)
        else:
            order = RandomSampler(ds) if shuffle else SequentialSampler(ds)
        return BatchSampler(order, self.batch_size, drop_last=False)

    @property
    def _shard(self) -> tuple[int, int]:
        """(rank, world size) of this training process. xlt shards its loaders itself (the
        Trainer's `use_distributed_sampler` is off): a strategy's own batch sampler too."""
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def training_data(self) -> TrainingData:
        """The strategy's whole view of the data (no dev or test rows in it)."""
        return TrainingData(
            labelled=dict(self.train_sets),
            unlabelled=dict(self.unlabelled_sets),
            batch_size=self.batch_size,
            source=self.source_lang,
            targets=list(self.target_langs),
            access=self.data.access,
            _make_loader=self._train_loader,
            _read_train=self.read_train,
            rank=self._shard[0],
            world_size=self._shard[1],
        )

    def train_dataloader(self):
        loaders = self.strategy_loader(self.training_data())
        named = loaders if isinstance(loaders, dict) else {"train": loaders}
        self.streams = {name: (loader.batch_sampler, loader.collate_fn)
                        for name, loader in named.items()}  # fmt: skip
        self._resume_batches()
        if isinstance(loaders, dict):  # several streams per step (labelled + unlabelled)
            return CombinedLoader(loaders, "max_size_cycle")
        return loaders

    def _resume_batches(self) -> None:
        saved = self._train_batches_state
        if not self.streams or saved is None:
            return
        if "order" in saved:  # written before streams had names: the one training loader
            saved = {"train": saved}
        cycling = len(self.streams) > 1  # shorter streams restart within an epoch
        for name, (batches, _) in self.streams.items():
            if name in saved:
                batches.load_state_dict(saved[name], finished_too=cycling)
        self._train_batches_state = None

    def batch_transform_counters(self) -> dict[str, float]:
        return self.batch_transform.counters() if self.batch_transform else {}

    def augmentation_summary(self) -> tuple[dict[str, int], list[dict]]:
        """Rows per augmentation (provenance `aug`) and a sample of the augmented ones."""
        if self.augmented is None:  # no augmentation, or one that passes rows through
            source = self.raw_train_rows.get(self.source_lang)
            return ({"original": source} if source is not None else {}), []
        kinds = self.augmented["aug"]
        counts = {kind: kinds.count(kind) for kind in sorted(set(kinds))}
        made = [i for i, kind in enumerate(kinds) if kind != "original"][:50]
        return counts, [self.augmented[i] for i in made]

    def _eval_loaders(self, keys: list[EvalKey]) -> list[DataLoader]:
        """In order; with several processes each scores a share, padded with repeated rows that
        the scorers drop by row position (RowCollator), so metrics equal one process's."""
        rank, world_size = self._shard
        shards = {k: DistributedSampler(self.eval_sets[k], world_size, rank, shuffle=False)
                  for k in keys if world_size > 1}  # fmt: skip
        # A DataLoader draws its base seed from the global RNG unless it has a generator: the
        # translate-test sets get their own, so adding them leaves training's randomness as it is.
        own = {k: torch.Generator().manual_seed(self.seed) for k in keys if is_translated(k[1])}
        return [self._loader(self.eval_sets[k], self._eval_collate, sampler=shards.get(k),
                             batch_size=self.eval_batch_size, shuffle=False,
                             generator=own.get(k))
                for k in keys]  # fmt: skip

    def val_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders(self.val_keys)

    def test_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders(self.test_keys)

    def state_dict(self) -> dict[str, Any]:
        """What travels in checkpoints so that a resumed run draws what an uninterrupted one
        would: the batch transform's random state, and the epoch's batches with how many of
        them were trained (a checkpoint may be written mid-epoch)."""
        state: dict[str, Any] = {"world_size": self._shard[1]}
        trainer = getattr(self, "trainer", None)
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed if trainer else 0
        # Lightning fetches one step ahead; the longest stream never restarts within an epoch,
        # so its count says whether it did. A shorter stream that restarted for that fetch has
        # its new cycle's batches saved with none of them trained.
        fetched = max((b.yielded for b, _ in self.streams.values()), default=0)
        prefetched = int(fetched > done)
        if self.batch_transform:
            first = next(iter(self.streams.values()), None)  # collated first in every fetch
            state["batch_transform"] = (first[1].transform_state(bool(prefetched)) if first
                                        else self.batch_transform.state_dict())  # fmt: skip
        if self.streams and trainer is not None:
            state["train_batches"] = {name: batches.state_dict(batches.yielded - prefetched)
                                      for name, (batches, _) in self.streams.items()}  # fmt: skip
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved, now = state.get("world_size", 1), self._shard[1]
        fitting = getattr(self, "trainer", None) and self.trainer.state.fn == TrainerFn.FITTING
        if fitting and saved != now:  # each process's share of an epoch depends on their number
            raise ConfigError(f"resume: the checkpoint was written by {saved} training "
                              f"process(es), this run has {now}; resume with trainer.devices="
                              f"{saved} (and the same trainer.num_nodes)")  # fmt: skip
        if self.batch_transform and "batch_transform" in state:
            self.batch_transform.load_state_dict(state["batch_transform"])
        if "train_batches" in state and fitting:  # not when testing a checkpoint
            self._train_batches_state = state["train_batches"]
            self._resume_batches()
