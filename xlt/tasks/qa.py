"""Extractive QA (SQuAD v1.1 training, XQuAD / MLQA evaluation): question and context through
the pair encoding, long contexts cut into overlapping windows (stride), a start/end head, and
answers read back through the character offsets; EM and F1 per language."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F

from xlt.config.bounds import Range
from xlt.data.collate import pad_inputs
from xlt.data.tokenize import cached_map, tokenizer_identity
from xlt.evaluation.qa_metrics import best_over_answers, exact_match, f1
from xlt.models.heads import SpanExtractor
from xlt.tasks.base import Scorer, TaskFamily, gathered
from xlt_serving.qa_windows import best_span, context_spans, encode_windows


class QACollator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        batch = pad_inputs(rows, self.pad_id)
        for key in ("start_positions", "end_positions", "feature_idx"):
            if key in rows[0]:
                batch[key] = torch.as_tensor([r[key] for r in rows], dtype=torch.long)
        return batch


class QAScorer(Scorer):
    """Collects start/end logits per window; per example, the best valid span over its
    windows (end >= start, at most `max_answer_tokens`, inside the context) is the answer."""

    def __init__(self, features, examples, style: str, n_best: int = 20, max_answer_tokens=30):
        super().__init__()
        self.features, self.examples, self.style = features, examples, style
        self.n_best, self.max_answer_tokens = n_best, max_answer_tokens
        self.reset()

    def reset(self) -> None:
        self.logits: dict[int, np.ndarray] = {}  # window (feature_idx) -> its logits
        self.merged: dict[int, np.ndarray] = {}

    def update(self, outputs: torch.Tensor, batch: dict) -> None:
        lengths = batch["attention_mask"].sum(1).tolist()
        for row, idx in enumerate(batch["feature_idx"].tolist()):
            self.logits[idx] = outputs[row, : lengths[row]].float().cpu().numpy()

    def predictions(self) -> dict[int, str]:
        best: dict[int, tuple[float, str]] = {}
        # Evaluation sets are sorted by length: find windows by their feature_idx.
        position = {idx: i for i, idx in enumerate(self.features["feature_idx"])}
        offsets_all, example_of = self.features["offsets"], self.features["example_idx"]
        for idx, logits in (self.merged or gathered(self.logits)).items():
            offsets, ex = offsets_all[position[idx]], example_of[position[idx]]
            span = best_span(logits, offsets, self.n_best, self.max_answer_tokens)
            if span is not None and (ex not in best or span[0] > best[ex][0]):
                best[ex] = (span[0], self.examples[ex]["context"][span[1] : span[2]])
        return {ex: text for ex, (_, text) in best.items()}

    def per_question(self) -> dict[str, list]:
        """EM and F1 of every question (its best answer over its windows)."""
        predicted = self.predictions()
        out: dict[str, list] = {"id": [], "f1": [], "em": [], "answer": []}
        for ex, row in enumerate(self.examples):
            answer, golds, lang = predicted.get(ex, ""), row["answers"]["text"], row["lang"]
            out["id"].append(str(row.get("id", ex)))
            out["answer"].append(answer)
            out["em"].append(best_over_answers(exact_match, answer, golds, lang, self.style))
            out["f1"].append(best_over_answers(f1, answer, golds, lang, self.style))
        return out

    def compute(self) -> dict[str, float]:
        self.merged = gathered(self.logits)  # every window once, from every process
        if not self.merged:
            return {}
        rows = self.per_question()
        return {"f1": float(np.mean(rows["f1"])), "em": float(np.mean(rows["em"]))}

    def row_scores(self) -> dict[str, list]:
        return self.per_question() if self.merged or self.logits else {}


class ExtractiveQA(TaskFamily):
    name = "qa"
    columns = ("question", "context", "answers")
    primary_metric = "f1"
    metric_names = ("f1", "em")
    loader_columns = ("input_ids", "start_positions", "end_positions", "feature_idx", "lang")

    def __init__(
        self,
        doc_stride: Annotated[int, Range(ge=1, doc="tokens between window starts")] = 128,
        max_query_length: Annotated[int, Range(ge=1, doc="question tokens kept")] = 64,
        normalization: str = "squad",
    ) -> None:
        """Windows as in SQuAD's and XTREME's run_squad: a question cut to `max_query_length`
        tokens, then context windows whose starts are `doc_stride` tokens apart."""
        self.doc_stride, self.max_query_length = doc_stride, max_query_length
        self.normalization = normalization

    def tokenize(self, ds, tokenizer, *, max_length, text_prefix, cache_dir, key, train):
        query_cap = min(self.max_query_length, max_length // 2)  # room for context in tiny runs

        def encode(batch: dict) -> dict:
            questions = [text_prefix + q.lstrip() for q in batch["question"]]
            windows = encode_windows(tokenizer, questions, batch["context"],
                                     max_length=max_length, doc_stride=self.doc_stride,
                                     query_cap=query_cap)  # fmt: skip
            features = [window_feature(enc, i, batch, row) for row, enc, i in windows]
            out = {k: [f[k] for f in features] for k in WINDOW_KEYS}
            out["length"] = [len(x) for x in out["input_ids"]]
            return out

        numbered = ds.add_column("_example_idx", list(range(len(ds))))
        identity = ["qa-v2", tokenizer_identity(tokenizer), max_length, self.doc_stride,
                    query_cap, text_prefix, *key]  # fmt: skip
        features = cached_map(numbered, encode, identity, cache_dir, numbered.column_names)
        return features.add_column("feature_idx", list(range(len(features))))

    def collator(self, tokenizer):
        return QACollator(tokenizer.pad_token_id)

    def build_net(self, encoder, num_labels, model_cfg) -> SpanExtractor:
        return SpanExtractor(
            encoder,
            head_dropout=model_cfg.head_dropout,
            freeze_embeddings=model_cfg.freeze_embeddings,
        )

    def loss(self, net, batch) -> torch.Tensor:
        logits = net(batch["input_ids"], batch["attention_mask"])
        start = F.cross_entropy(logits[..., 0], batch["start_positions"])
        end = F.cross_entropy(logits[..., 1], batch["end_positions"])
        return (start + end) / 2

    def scorer(self, label_names, features, examples) -> Scorer:
        return QAScorer(features, examples, self.normalization)


WINDOW_KEYS = ("input_ids", "example_idx", "offsets", "start_positions", "end_positions", "lang")


def window_feature(enc, i: int, batch: dict, row: int) -> dict:
    """One window: its ids, the character span of each context token ((-1, -1) elsewhere), and
    the answer's token positions (0, the first token, when the answer is not inside it)."""
    spans = context_spans(enc, i)
    answer = batch["answers"][row]
    start_char = answer["answer_start"][0] if answer["answer_start"] else -1
    end_char = start_char + len(answer["text"][0]) if answer["text"] else -1
    start = end = 0
    inside = [j for j, (a, b) in enumerate(spans) if a >= 0]
    if inside and spans[inside[0]][0] <= start_char and spans[inside[-1]][1] >= end_char:
        start = next(j for j in inside if spans[j][1] > start_char)
        end = next(j for j in reversed(inside) if spans[j][0] < end_char)
    return {"input_ids": enc["input_ids"][i], "example_idx": batch["_example_idx"][row],
            "offsets": [list(span) for span in spans], "start_positions": start,
            "end_positions": end, "lang": batch["lang"][row]}  # fmt: skip
