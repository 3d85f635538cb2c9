"""Predictions from a model folder (xlt_serving/bundle.py) on raw text, the way xlt evaluated
it: the same prefix, length limit, padding, pooling and heads; batches sorted by length.

Inputs are pandas DataFrames: `text` (and `text_pair`) for classification, `tokens` (a list
of words) or `text` (split on whitespace) for tagging, `question` and `context` for QA. An
`id` column is passed through; a `lang` column picks per-language heads where a model has them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from xlt_serving.bundle import ModelMeta, load_encoder, load_heads, load_tokenizer, load_weights
from xlt_serving.onnx_encoder import OnnxEncoder, export_onnx
from xlt_serving.precision import cpu_has_bf16_units
from xlt_serving.qa_windows import best_span, context_spans, encode_windows

Progress = Callable[[int], None]  # called with the number of rows (or windows) just done
REQUIRED = {
    "classification": ("text",),
    "pair_classification": ("text", "text_pair"),
    "tagging": ("tokens|text",),
    "qa": ("question", "context"),
}


# run: as the run evaluated (its model folder says); auto: bf16 autocast where the CPU has bf16
# units; bf16; fp32.
PRECISIONS = ("run", "auto", "bf16", "fp32")
# What runs the encoder: torch (at the precision asked), or onnxruntime in fp32 or with int8
# matrix products (xlt_serving/onnx_encoder.py; precision then does not apply).
ENGINES = ("torch", "onnx", "onnx_int8")


class MissingColumn(ValueError):
    """The input lacks a column the model's task reads."""


def uses_bf16(precision: str, run_precision: str = "fp32") -> bool:
    """Whether `precision` (one of PRECISIONS) means bf16 autocast on this machine;
    `run_precision`: what the model's run evaluated in."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "run":
        precision = run_precision
    return precision == "bf16" or (precision == "auto" and cpu_has_bf16_units())


def length_batches(
    lengths: list[int], batch_size: int, by_length: bool = True
) -> Iterator[list[int]]:
    """Row positions in batches of similar length (less padding), longest first; or in file
    order with `by_length=False` (the benchmark's baseline)."""
    order = list(range(len(lengths)))
    if by_length:
        order.sort(key=lambda i: -lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def pad_batch(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids and the attention mask, as xlt's collator makes them."""
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    lengths = torch.tensor([len(x) for x in ids])
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    return input_ids, mask


class TextModel:
    """A trained xlt model: `predict(frame)` returns one output row per input row."""

    def __init__(self, folder: str | Path, engine: str | None = None) -> None:
        """`engine`: one of ENGINES (default: the one the folder names, torch for most)."""
        self.folder = folder = Path(folder)
        self.meta = ModelMeta.load(folder)
        self.engine = engine or self.meta.engine
        if self.engine not in ENGINES:
            raise ValueError(f"engine={self.engine!r}: use one of {', '.join(ENGINES)}")
        self.tokenizer = load_tokenizer(folder, self.meta)
        weights = load_weights(folder)
        self.encoder = load_encoder(folder, self.meta, weights)
        self.heads = load_heads(self.meta, weights)
        self.run_encoder = self.encoder if self.engine == "torch" else self.onnx_encoder()

    def onnx_encoder(self):
        """The encoder exported to ONNX and run by onnxruntime (a few seconds at load)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="xlt-onnx-") as folder:  # read into memory
            path = export_onnx(self.encoder, Path(folder) / "encoder.onnx",
                               int8=self.engine == "onnx_int8")  # fmt: skip
            return OnnxEncoder(path, self.encoder.get_input_embeddings())

    def check_columns(self, frame: pd.DataFrame) -> None:
        for need in REQUIRED[self.meta.task]:
            if not any(name in frame.columns for name in need.split("|")):
                raise MissingColumn(
                    f"the input has no {need.replace('|', ' or ')!r} column (it has "
                    f"{list(frame.columns)}); a {self.meta.task} model reads "
                    f"{', '.join(REQUIRED[self.meta.task])}"
                )

    @torch.inference_mode()
    def predict(
        self,
        frame: pd.DataFrame,
        batch_size: int = 32,
        progress: Progress | None = None,
        by_length: bool = True,
        precision: str = "run",
    ) -> pd.DataFrame:
        """`precision`: "run" (as the run evaluated: its test predictions are reproduced; in
        bf16 a near-tie can tip with the batch's shape), "auto" (bf16 autocast where the CPU has
        bf16 units), "bf16" or "fp32"."""
        self.check_columns(frame)
        self.by_length = by_length
        frame = frame.reset_index(drop=True)
        task = self.meta.task
        bf16 = self.engine == "torch" and uses_bf16(precision, self.meta.precision)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if task in ("classification", "pair_classification"):
                out = self.classify(frame, batch_size, progress)
            elif task == "tagging":
                out = self.tag(frame, batch_size, progress)
            else:
                out = self.answer(frame, batch_size, progress)
        if "id" in frame.columns:
            out.insert(0, "id", frame["id"].astype(str).to_numpy())
        return out

    def token_states(self, ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        input_ids, mask = pad_batch(ids, self.tokenizer.pad_token_id)
        return self.run_encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state, mask

    def pooled(self, ids: list[list[int]]) -> torch.Tensor:
        hidden, mask = self.token_states(ids)
        if self.meta.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)

    def head_for(self, lang: str | None) -> torch.nn.Module:
        """The shared head, or with per-language heads the row's (xlt's routing)."""
        if lang is None or not self.meta.language_heads:
            return self.heads["head"]
        chosen = lang if lang in self.meta.language_heads else self.meta.fallback_lang
        return self.heads[f"language_heads/{chosen}"]

    def classify(self, frame: pd.DataFrame, batch_size: int, progress) -> pd.DataFrame:
        texts = [self.meta.text_prefix + str(t) for t in frame["text"]]
        pairs = [str(t) for t in frame["text_pair"]] if "text_pair" in frame.columns else None
        enc = self.tokenizer(texts, pairs, truncation=True, max_length=self.meta.max_length)
        ids = enc["input_ids"]
        langs = list(frame["lang"]) if "lang" in frame.columns else [None] * len(ids)
        probs = np.zeros((len(ids), len(self.meta.labels)), dtype=np.float64)
        for rows in length_batches([len(x) for x in ids], batch_size, self.by_length):
            pooled = self.pooled([ids[r] for r in rows])
            logits = self.heads["head"](pooled)
            if self.meta.language_heads:  # per row: its language's head
                logits = torch.cat([self.head_for(langs[r])(pooled[i : i + 1])
                                    for i, r in enumerate(rows)])  # fmt: skip
            probs[rows] = torch.softmax(logits.float(), -1).numpy()
            if progress:
                progress(len(rows))
        best = probs.argmax(1)
        return pd.DataFrame({
            "label": [self.meta.labels[b] for b in best],
            "probability": probs[np.arange(len(best)), best],
            "probabilities": [list(p) for p in probs],
        })  # fmt: skip

    def word_lists(self, frame: pd.DataFrame) -> list[list[str]]:
        if "tokens" in frame.columns:
            return [[str(w) for w in words] for words in frame["tokens"]]
        return [str(t).split() for t in frame["text"]]

    def tag(self, frame: pd.DataFrame, batch_size: int, progress) -> pd.DataFrame:
        """A tag per word, read at each word's first subword; words cut by the length limit
        get 'O' (as xlt scores them)."""
        prefix = self.meta.text_prefix.split()
        words = self.word_lists(frame)
        enc = self.tokenizer([prefix + w for w in words], is_split_into_words=True,
                             truncation=True, max_length=self.meta.max_length)  # fmt: skip
        ids = enc["input_ids"]
        tags: list[list[str]] = [[] for _ in ids]
        for rows in length_batches([len(x) for x in ids], batch_size, self.by_length):
            hidden, _ = self.token_states([ids[r] for r in rows])
            best = self.heads["head"](hidden).argmax(-1)
            for i, r in enumerate(rows):
                firsts = first_subwords(enc.word_ids(r), len(prefix))
                tags[r] = [self.meta.labels[t] for t in best[i, firsts].tolist()]
                tags[r] += ["O"] * (len(words[r]) - len(tags[r]))
            if progress:
                progress(len(rows))
        return pd.DataFrame({"tags": tags})

    def answer(self, frame: pd.DataFrame, batch_size: int, progress) -> pd.DataFrame:
        """The best span over each question's context windows, as xlt's QA scorer finds it."""
        qa = self.meta.qa
        questions = [self.meta.text_prefix + str(q).lstrip() for q in frame["question"]]
        contexts = [str(c) for c in frame["context"]]
        windows = list(encode_windows(self.tokenizer, questions, contexts,
                                      max_length=self.meta.max_length, doc_stride=qa["doc_stride"],
                                      query_cap=qa["query_cap"]))  # fmt: skip
        ids = [enc["input_ids"][i] for _, enc, i in windows]
        best: dict[int, tuple[float, int, int]] = {}
        for rows in length_batches([len(x) for x in ids], batch_size, self.by_length):
            hidden, mask = self.token_states([ids[r] for r in rows])
            logits = self.heads["head"](hidden).masked_fill(~mask.bool().unsqueeze(-1), -1e4)
            for i, r in enumerate(rows):
                pair, enc, w = windows[r]
                span = best_span(logits[i, : len(ids[r])].float().numpy(), context_spans(enc, w),
                                 qa["n_best"], qa["max_answer_tokens"])  # fmt: skip
                if span is not None and (pair not in best or span[0] > best[pair][0]):
                    best[pair] = span
            if progress:
                progress(len(rows))
        spans = [best.get(p, (float("nan"), -1, -1)) for p in range(len(frame))]
        return pd.DataFrame({
            "answer": [contexts[p][s:e] if s >= 0 else "" for p, (_, s, e) in enumerate(spans)],
            "answer_start": [s for _, s, _ in spans],
            "score": [score for score, _, _ in spans],
        })  # fmt: skip


def first_subwords(word_ids: list[int | None], skip_words: int) -> list[int]:
    """Token positions that start a word, leaving out the first `skip_words` (the prefix)."""
    out, previous = [], None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous and word >= skip_words:
            out.append(position)
        previous = word
    return out
