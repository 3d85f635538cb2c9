"""Sentence and sentence-pair classification (topics, XNLI, PAWS-X): a pooled vector, a linear
head, cross-entropy; accuracy and macro-F1. Pairs go through the tokenizer's pair encoding."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xlt.data.collate import PadCollator
from xlt.data.tokenize import tokenize
from xlt.evaluation.metrics import language_metrics
from xlt.models.classifier import SequenceClassifier
from xlt.tasks.base import ROW, Scorer, TaskFamily, gathered


class ClassificationScorer(Scorer):
    def __init__(self, label_names: list[str], ids: list[str]) -> None:
        super().__init__()
        self.names = label_names
        self.num_labels = len(label_names)
        self.ids = ids  # of the evaluation rows, by row position
        self.reset()

    def update(self, outputs: torch.Tensor, batch: dict) -> None:
        predicted = outputs.argmax(-1).tolist()
        gold = batch["labels"].tolist()
        for row, p, g in zip(batch[ROW].tolist(), predicted, gold, strict=True):
            self.rows[row] = (p, g)

    def compute(self) -> dict[str, float]:
        self.merged = gathered(self.rows)
        if not self.merged:
            return {}
        pred, gold = (torch.tensor(column) for column in zip(*self.merged.values(), strict=True))
        metrics = language_metrics(self.num_labels, sync=False)
        metrics.update(pred, gold)
        return {name: float(v) for name, v in metrics.compute().items()}

    def reset(self) -> None:
        self.rows: dict[int, tuple[int, int]] = {}
        self.merged: dict[int, tuple[int, int]] = {}

    def row_scores(self) -> dict[str, list]:
        rows = self.merged or gathered(self.rows)
        pred = [p for p, _ in rows.values()]
        gold = [g for _, g in rows.values()]
        acc = [int(p == g) for p, g in zip(pred, gold, strict=True)]
        return {"id": [self.ids[r] for r in rows], "gold": gold, "pred": pred, "acc": acc,
                "label": [self.names[p] for p in pred]}  # fmt: skip


class Classification(TaskFamily):
    primary_metric = "acc"
    metric_names = ("acc", "macro_f1")
    loader_columns = ("input_ids", "label", "lang", "text")  # text: batch-time code-switching

    def __init__(self, pair: bool = False) -> None:
        self.pair = pair
        self.name = "pair_classification" if pair else "classification"
        self.columns = ("text", "text_pair", "label") if pair else ("text", "label")

    def tokenize(self, ds, tokenizer, *, max_length, text_prefix, cache_dir, key, train):
        return tokenize(
            ds,
            tokenizer,
            max_length=max_length,
            text_prefix=text_prefix,
            cache_dir=cache_dir,
            key=key,
        )

    def collator(self, tokenizer):
        return PadCollator(tokenizer.pad_token_id)

    def build_net(self, encoder, num_labels, model_cfg) -> SequenceClassifier:
        return SequenceClassifier(
            encoder,
            num_labels=num_labels,
            pooling=model_cfg.pooling,
            head_dropout=model_cfg.head_dropout,
            freeze_embeddings=model_cfg.freeze_embeddings,
        )

    def loss(self, net, batch) -> torch.Tensor:
        logits = net(batch["input_ids"], batch["attention_mask"], batch.get("lang"))
        return F.cross_entropy(logits, batch["labels"])

    def scorer(self, label_names, features, examples) -> Scorer:
        return ClassificationScorer(list(label_names), list(map(str, features["id"])))
