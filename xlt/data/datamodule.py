"""Tokenised training sets per language (labelled, and unlabelled where a strategy wants raw
target text) and one evaluation loader per (split, language), so every language is scored
separately in every run. The strategy decides how training sets become a loader."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import lightning as L
from datasets import Dataset
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from xlt.augment.base import AugmentContext
from xlt.data.collate import LengthGroupedBatchSampler, SwitchingCollator
from xlt.data.tokenize import count_truncated, sort_by_length
from xlt.data.transfer_data import TransferData
from xlt.tasks.base import TaskType

if TYPE_CHECKING:
    from xlt.strategies.base import TransferStrategy

EvalKey = tuple[str, str]  # (split, language)


class TransferDataModule(L.LightningDataModule):
    def __init__(
        self,
        data: TransferData,
        tokenizer: PreTrainedTokenizerBase,
        strategy: TransferStrategy,
        *,
        task: TaskType,
        source_lang: str,
        target_langs: list[str],
        max_length: int,
        text_prefix: str,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int,
        limit: int | None,
        cache_dir: str | Path,
        augmentation=None,
        seed: int = 0,
        length_grouped: bool = False,
    ) -> None:
        super().__init__()
        self.data, self.tokenizer, self.augmentation = data, tokenizer, augmentation
        self.strategy = strategy
        self.source_lang, self.target_langs = source_lang, list(target_langs)
        self.train_langs = strategy.train_languages(source_lang, self.target_langs)
        self.unlabelled_langs = strategy.unlabelled_languages(source_lang, self.target_langs)
        self.eval_langs = [source_lang, *self.target_langs]
        self.max_length, self.text_prefix = max_length, text_prefix
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.num_workers, self.limit, self.cache_dir = num_workers, limit, cache_dir
        self.seed, self.length_grouped = seed, length_grouped
        self.task = task
        self.collate = task.collator(tokenizer)
        self.augmented: Dataset | None = None
        self.train_sets: dict[str, Dataset] = {}
        self.unlabelled_sets: dict[str, Dataset] = {}
        self.eval_sets: dict[EvalKey, Dataset] = {}  # tokenised (QA: windows of a context)
        self.eval_examples: dict[EvalKey, Dataset] = {}  # the rows they came from
        self.truncated: dict[str, int] = {}  # "split/lang" -> texts cut at max_length

    @property
    def val_keys(self) -> list[EvalKey]:
        return [("dev", lang) for lang in self.eval_langs if lang in self.data.languages_of("dev")]

    @property
    def test_keys(self) -> list[EvalKey]:
        return [
            ("test", lang) for lang in self.eval_langs if lang in self.data.languages_of("test")
        ]

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

    def setup(self, stage: str | None = None) -> None:
        if self.eval_sets:
            return
        for lang in self.train_langs:
            raw, key = self.data.subset("train", lang, self.limit), ["train", lang]
            if lang == self.source_lang and self.augmentation is not None:
                context = AugmentContext(
                    self.source_lang, self.target_langs, self.seed, str(self.cache_dir)
                )
                raw = self.augmentation.apply(raw, self.data, context)  # source TRAIN rows only
                self.augmented = raw
                key += [self.augmentation.fingerprint(), self.seed, raw["id"]]
                if self.augmentation.dynamic:
                    self.collate = SwitchingCollator(
                        self.tokenizer.pad_token_id,
                        self.tokenizer,
                        self.max_length,
                        self.text_prefix,
                        self.augmentation,
                        self.source_lang,
                        self.seed,
                    )
            self.train_sets[lang] = self.tokenized(raw, key)
        for lang in self.unlabelled_langs:  # the same TRAIN text, labels dropped
            labelled = self.tokenized(self.data.subset("train", lang, self.limit), ["train", lang])
            self.unlabelled_sets[lang] = labelled.remove_columns("label")
        for split, lang in self.val_keys + self.test_keys:
            subset = self.data.subset(split, lang, self.limit)
            self.eval_examples[(split, lang)] = subset
            self.eval_sets[(split, lang)] = sort_by_length(self.tokenized(subset, [split, lang]))

    def loader(self, ds: Dataset, batch_size: int, shuffle: bool, **kwargs) -> DataLoader:
        columns = [c for c in self.task.loader_columns if c in ds.column_names]
        if "batch_sampler" in kwargs:  # the sampler decides the batches
            pass
        elif shuffle and self.length_grouped and "length" in ds.column_names and not self._sharded:
            kwargs["batch_sampler"] = LengthGroupedBatchSampler(ds["length"], batch_size)
        else:
            kwargs.update(batch_size=batch_size, shuffle=shuffle)
        return DataLoader(
            ds.with_format(columns=columns),
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            **kwargs,
        )

    @property
    def _sharded(self) -> bool:
        """Multi-process training: Lightning shards with its own DistributedSampler."""
        trainer = getattr(self, "trainer", None)
        return trainer is not None and trainer.world_size > 1

    def train_dataloader(self):
        return self.strategy.train_dataloader(self)

    def augmentation_summary(self) -> tuple[dict[str, int], list[dict]]:
        """Rows per augmentation (provenance `aug`) and a sample of the augmented ones."""
        if self.augmented is None:
            return {}, []
        kinds = self.augmented["aug"]
        counts = {kind: kinds.count(kind) for kind in sorted(set(kinds))}
        made = [i for i, kind in enumerate(kinds) if kind != "original"][:50]
        return counts, [self.augmented[i] for i in made]

    def val_dataloader(self) -> list[DataLoader]:
        return [self.loader(self.eval_sets[k], self.eval_batch_size, False) for k in self.val_keys]

    def test_dataloader(self) -> list[DataLoader]:
        return [self.loader(self.eval_sets[k], self.eval_batch_size, False) for k in self.test_keys]
