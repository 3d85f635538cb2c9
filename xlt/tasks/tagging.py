"""Token classification (PAN-X / WikiANN NER, POS): rows are words with a tag each; the tag sits
on a word's first subword (the others are ignored, -100), and entity-level F1 is computed with
seqeval per language. A sentence longer than `model.max_length` subwords is either cut (the
cut words count as predicted 'O') or split into pieces scored as sentences (XTREME's PAN-X
preprocessing)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from xlt.data.collate import pad, pad_inputs
from xlt.data.tokenize import cached_map, tokenizer_identity
from xlt.errors import ConfigError
from xlt.models.heads import TokenTagger
from xlt.tasks.base import ROW, Scorer, TaskFamily, gathered

IGNORE = -100


class TaggingCollator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        batch = pad_inputs(rows, self.pad_id)
        batch["labels"] = pad(rows, "labels", IGNORE)
        batch["tags"] = [r["tags"] for r in rows]  # every word's gold tag, truncated ones too
        return batch


class TaggingScorer(Scorer):
    def __init__(self, label_names: list[str], ids: list[str] | None = None) -> None:
        super().__init__()
        self.names, self.ids = label_names, ids
        self.reset()

    def reset(self) -> None:
        self.rows: dict[int, tuple[list[str], list[str]]] = {}  # row -> (gold, predicted)
        self.merged: dict[int, tuple[list[str], list[str]]] = {}

    def update(self, outputs: torch.Tensor, batch: dict) -> None:
        predicted = outputs.argmax(-1).cpu()
        first_subword = (batch["labels"] != IGNORE).cpu()
        for i, (row, tags) in enumerate(zip(batch[ROW].tolist(), batch["tags"], strict=True)):
            words = [self.names[t] for t in predicted[i][first_subword[i]].tolist()]
            words += ["O"] * (len(tags) - len(words))  # truncated words: nothing predicted
            self.rows[row] = ([self.names[t] for t in tags], words)

    def sentences(self) -> tuple[list[int], list[list[str]], list[list[str]]]:
        rows = self.merged or gathered(self.rows)
        return list(rows), [g for g, _ in rows.values()], [p for _, p in rows.values()]

    def compute(self) -> dict[str, float]:
        from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

        self.merged = gathered(self.rows)
        _, gold, pred = self.sentences()
        if not gold:
            return {}
        kwargs = {"zero_division": 0}
        return {
            "f1": float(f1_score(gold, pred, **kwargs)),
            "precision": float(precision_score(gold, pred, **kwargs)),
            "recall": float(recall_score(gold, pred, **kwargs)),
            "acc": float(accuracy_score(gold, pred)),  # per word
        }

    def row_scores(self) -> dict[str, list]:
        """Entity counts per sentence: their sums give seqeval's micro F1."""
        from seqeval.metrics.sequence_labeling import get_entities

        rows, gold, pred = self.sentences()
        counts = {"tp": [], "fp": [], "fn": []}
        for g_tags, p_tags in zip(gold, pred, strict=True):
            g, p = set(get_entities(g_tags)), set(get_entities(p_tags))
            counts["tp"].append(len(g & p))
            counts["fp"].append(len(p - g))
            counts["fn"].append(len(g - p))
        ids = [self.ids[r] for r in rows] if self.ids else list(map(str, rows))
        return {"id": ids, **counts, "tags": [" ".join(tags) for tags in pred]}


class Tagging(TaskFamily):
    name = "tagging"
    columns = ("tokens", "tags")
    primary_metric = "f1"
    metric_names = ("f1", "precision", "recall", "acc")
    loader_columns = ("input_ids", "labels", "tags", "lang")

    def __init__(self, long_sentences: Literal["truncate", "split"] = "truncate") -> None:
        """`long_sentences`: `truncate` cuts a sentence at model.max_length subwords (the cut
        words are scored as 'O'); `split` makes pieces that fit, each a sentence (XTREME)."""
        if long_sentences not in ("truncate", "split"):
            raise ConfigError(
                f"dataset.task_options.long_sentences={long_sentences!r}: use truncate or split"
            )
        self.long_sentences = long_sentences

    def tokenize(self, ds, tokenizer, *, max_length, text_prefix, cache_dir, key, train):
        prefix = text_prefix.split()  # e5's "query: " becomes an untagged first word
        budget = (
            max_length
            - tokenizer.num_special_tokens_to_add()
            - len(
                tokenizer(prefix, is_split_into_words=True, add_special_tokens=False)["input_ids"]
            )
        )

        def encode(batch: dict) -> dict:
            if self.long_sentences == "split":
                batch = split_long_sentences(batch, tokenizer, budget)
            words = [prefix + list(tokens) for tokens in batch["tokens"]]
            enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
            labels = []
            for row, tags in enumerate(batch["tags"]):
                aligned, previous = [], None
                for word in enc.word_ids(row):
                    first = word is not None and word != previous and word >= len(prefix)
                    aligned.append(tags[word - len(prefix)] if first else IGNORE)
                    previous = word
                labels.append(aligned)
            ids = enc["input_ids"]
            return {**batch, "input_ids": ids, "labels": labels, "length": [len(x) for x in ids]}

        identity = ["tagging-v2", tokenizer_identity(tokenizer), max_length, text_prefix,
                    self.long_sentences, *key]  # fmt: skip
        return cached_map(ds, encode, identity, cache_dir, ds.column_names)

    def collator(self, tokenizer):
        return TaggingCollator(tokenizer.pad_token_id)

    def build_net(self, encoder, num_labels, model_cfg) -> TokenTagger:
        return TokenTagger(
            encoder,
            num_labels=num_labels,
            head_dropout=model_cfg.head_dropout,
            freeze_embeddings=model_cfg.freeze_embeddings,
        )

    def loss(self, net, batch) -> torch.Tensor:
        logits = net(batch["input_ids"], batch["attention_mask"])
        return F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE)

    def scorer(self, label_names, features, examples) -> Scorer:
        ids = list(map(str, features["id"])) if "id" in features.column_names else None
        return TaggingScorer(label_names, ids)


def word_pieces(subwords: list[int], budget: int) -> list[tuple[int, int]]:
    """Word ranges of consecutive pieces of at most `budget` subwords each (a single word
    longer than that is a piece of its own, and is cut)."""
    pieces, start, used = [], 0, 0
    for i, n in enumerate(subwords):
        if used + n > budget and i > start:
            pieces.append((start, i))
            start, used = i, 0
        used += n
    pieces.append((start, len(subwords)))
    return pieces


def split_long_sentences(batch: dict, tokenizer, budget: int) -> dict:
    """Every sentence over `budget` subwords as several sentences; ids get `~k` suffixes."""
    enc = tokenizer(batch["tokens"], is_split_into_words=True, add_special_tokens=False)
    out: dict[str, list] = {column: [] for column in batch}
    for row, words in enumerate(batch["tokens"]):
        subwords = [0] * len(words)
        for word in enc.word_ids(row):
            if word is not None:
                subwords[word] += 1
        pieces = word_pieces(subwords, budget)
        for k, (a, b) in enumerate(pieces):
            for column, values in batch.items():
                value = values[row]
                if column in ("tokens", "tags"):
                    value = value[a:b]
                elif column == "id" and len(pieces) > 1:
                    value = f"{value}~{k}"
                out[column].append(value)
    return out
