"""Sentence and sentence-pair classification (topics, XNLI, PAWS-X): a pooled vector, a linear
head, cross-entropy; accuracy and macro-F1. Pairs go through the tokenizer's pair encoding."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xlt.data.collate import PadCollator
from xlt.data.tokenize import tokenize
from xlt.evaluation.metrics import language_metrics
from xlt.models.classifier import SequenceClassifier
from xlt.tasks.base import Scorer, TaskFamily


class ClassificationScorer(Scorer):
    def __init__(self, num_labels: int, ids: list[str]) -> None:
        super().__init__()
        self.metrics = language_metrics(num_labels)
        self.ids = ids  # of the evaluation rows, in loader order
        self.reset()

    def update(self, outputs: torch.Tensor, batch: dict) -> None:
        predicted = outputs.argmax(-1)
        self.metrics.update(predicted, batch["labels"])
        self.pred += predicted.tolist()
        self.gold += batch["labels"].tolist()

    def compute(self) -> dict[str, float]:
        return {name: float(v) for name, v in self.metrics.compute().items()}

    def reset(self) -> None:
        self.metrics.reset()
        self.pred: list[int] = []
        self.gold: list[int] = []

    def row_scores(self) -> dict[str, list]:
        acc = [int(p == g) for p, g in zip(self.pred, self.gold, strict=True)]
        return {"id": self.ids[: len(acc)], "gold": self.gold, "pred": self.pred, "acc": acc}


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
        return ClassificationScorer(len(label_names), list(map(str, features["id"])))
