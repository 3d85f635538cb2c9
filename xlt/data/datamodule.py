"""One training loader (the languages the strategy trains on) and one evaluation loader per
(split, language), so every language is scored separately in every run."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from datasets import Dataset, concatenate_datasets
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from xlt.data.collate import PadCollator
from xlt.data.tokenize import sort_by_length, tokenize
from xlt.data.transfer_data import TransferData

EvalKey = tuple[str, str]  # (split, language)


class TransferDataModule(L.LightningDataModule):
    def __init__(
        self,
        data: TransferData,
        tokenizer: PreTrainedTokenizerBase,
        *,
        train_langs: list[str],
        eval_langs: list[str],
        max_length: int,
        text_prefix: str,
        batch_size: int,
        eval_batch_size: int,
        num_workers: int,
        limit: int | None,
        cache_dir: str | Path,
        augmentation=None,
    ) -> None:
        super().__init__()
        self.data, self.tokenizer, self.augmentation = data, tokenizer, augmentation
        self.train_langs, self.eval_langs = list(train_langs), list(eval_langs)
        self.max_length, self.text_prefix = max_length, text_prefix
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.num_workers, self.limit, self.cache_dir = num_workers, limit, cache_dir
        self.collate = PadCollator(tokenizer.pad_token_id)
        self.train_set: Dataset | None = None
        self.eval_sets: dict[EvalKey, Dataset] = {}

    @property
    def val_keys(self) -> list[EvalKey]:
        return [("dev", lang) for lang in self.eval_langs if lang in self.data.languages_of("dev")]

    @property
    def test_keys(self) -> list[EvalKey]:
        return [
            ("test", lang) for lang in self.eval_langs if lang in self.data.languages_of("test")
        ]

    def _tokenize(self, ds: Dataset, key: list) -> Dataset:
        return tokenize(
            ds,
            self.tokenizer,
            max_length=self.max_length,
            text_prefix=self.text_prefix,
            cache_dir=self.cache_dir,
            key=[self.data.fingerprint, self.limit, *key],
        )

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        raw = concatenate_datasets(
            [self.data.subset("train", lang, self.limit) for lang in self.train_langs]
        )
        aug_key = "none"
        if self.augmentation is not None:
            raw = self.augmentation.apply(raw, self.data)
            aug_key = self.augmentation.fingerprint()
        self.train_set = self._tokenize(raw, ["train", self.train_langs, aug_key])
        for split, lang in self.val_keys + self.test_keys:
            subset = self.data.subset(split, lang, self.limit)
            self.eval_sets[(split, lang)] = sort_by_length(self._tokenize(subset, [split, lang]))

    def _loader(self, ds: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        return DataLoader(
            ds.with_format(columns=["input_ids", "label"]),
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.batch_size, shuffle=True)

    def val_dataloader(self) -> list[DataLoader]:
        return [self._loader(self.eval_sets[k], self.eval_batch_size, False) for k in self.val_keys]

    def test_dataloader(self) -> list[DataLoader]:
        return [
            self._loader(self.eval_sets[k], self.eval_batch_size, False) for k in self.test_keys
        ]
