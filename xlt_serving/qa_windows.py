"""Extractive QA's windows and answer search, shared by training (xlt/tasks/qa.py) and logged
models, so a served model reads questions and contexts exactly as it was evaluated."""

from __future__ import annotations

import numpy as np


def cap_questions(tokenizer, questions: list[str], cap: int) -> tuple[list[str], list[int]]:
    """Questions cut after their `cap`-th token (run_squad's max_query_length), and their
    token counts without special tokens."""
    enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    capped = [q if len(ids) <= cap else q[: offsets[cap - 1][1]]
              for q, ids, offsets in zip(questions, enc["input_ids"], enc["offset_mapping"],
                                         strict=True)]  # fmt: skip
    lengths = [len(ids) for ids in tokenizer(capped, add_special_tokens=False)["input_ids"]]
    return capped, lengths


def group_by(values: list[int]) -> dict[int, list[int]]:
    """Row indices per value, in row order."""
    groups: dict[int, list[int]] = {}
    for row, value in enumerate(values):
        groups.setdefault(value, []).append(row)
    return groups


def window_overlap(tokenizer, max_length: int, query_tokens: int, doc_stride: int) -> int:
    """The tokenizer's `stride` (tokens shared by consecutive windows) that puts window starts
    `doc_stride` tokens apart: the context room of a window minus `doc_stride`."""
    room = max_length - query_tokens - tokenizer.num_special_tokens_to_add(pair=True)
    return max(0, room - doc_stride)


def context_spans(enc, i: int) -> list[tuple[int, int]]:
    """Window `i`'s character span of each context token; (-1, -1) on question and specials."""
    in_context = [s == 1 for s in enc.sequence_ids(i)]
    return [tuple(o) if c else (-1, -1)
            for o, c in zip(enc["offset_mapping"][i], in_context, strict=True)]  # fmt: skip


def encode_windows(tokenizer, questions, contexts, *, max_length, doc_stride, query_cap):
    """Every (question, context) pair as overlapping windows: yields (pair index, encoding,
    window index) in pair order, windows of one pair in context order."""
    questions, lengths = cap_questions(tokenizer, questions, query_cap)
    per_pair: list[list[tuple]] = [[] for _ in questions]
    for q_len, rows in group_by(lengths).items():
        overlap = window_overlap(tokenizer, max_length, q_len, doc_stride)
        pairs = [questions[r] for r in rows], [contexts[r] for r in rows]
        enc = tokenizer(*pairs, truncation="only_second", max_length=max_length, stride=overlap,
                        return_overflowing_tokens=True, return_offsets_mapping=True)  # fmt: skip
        for i in range(len(enc["input_ids"])):
            per_pair[rows[enc["overflow_to_sample_mapping"][i]]].append((enc, i))
    for pair, windows in enumerate(per_pair):
        for enc, i in windows:
            yield pair, enc, i


def best_span(
    logits: np.ndarray, offsets, n_best: int = 20, max_answer_tokens: int = 30
) -> tuple[float, int, int] | None:
    """The best valid span of one window (end >= start, at most `max_answer_tokens`, inside
    the context) among the `n_best` starts and ends: (score, start char, end char)."""
    starts = np.argsort(logits[:, 0])[::-1][:n_best]
    ends = np.argsort(logits[:, 1])[::-1][:n_best]
    best = None
    for s in starts:
        for e in ends:
            if offsets[s][0] < 0 or offsets[e][0] < 0:
                continue  # question or special token
            if e < s or e - s + 1 > max_answer_tokens:
                continue
            score = float(logits[s, 0] + logits[e, 1])
            if best is None or score > best[0]:
                best = (score, int(offsets[s][0]), int(offsets[e][1]))
    return best
