"""Nearest-neighbour retrieval between two embedding sets: cosine, CSLS and margin scoring.

Every function works in query chunks, so memory stays bounded (`chunk_rows`) for 100k x 100k
problems: a chunk's similarity matrix is the only dense one ever built.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

import torch
import torch.nn.functional as F

DEFAULT_BUDGET_BYTES = 256 * 2**20  # one chunk's float32 similarity matrix


class Scoring(StrEnum):
    cosine = "cosine"  # plain nearest neighbour
    csls = "csls"  # 2cos - r_T(x) - r_S(y) (Conneau et al. 2018)
    margin = "margin"  # cos / mean(r_T(x), r_S(y)) (ratio margin, Artetxe & Schwenk 2019)


def normalize(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.float(), dim=-1)


def chunk_rows(n_keys: int, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> int:
    """Query rows per chunk so that one chunk x n_keys float32 matrix fits the budget."""
    return max(1, budget_bytes // (4 * max(n_keys, 1)))


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def mean_neighbour_similarity(
    queries: torch.Tensor, keys: torch.Tensor, k: int, chunk: int | None = None
) -> torch.Tensor:
    """For each query, the mean cosine to its k nearest keys (the 'hubness' of its region)."""
    k = min(k, keys.shape[0])
    chunk = chunk or chunk_rows(keys.shape[0])
    out = [
        (queries[s] @ keys.T).topk(k, dim=1).values.mean(1) for s in _chunks(len(queries), chunk)
    ]
    return torch.cat(out) if out else queries.new_empty(0)


def _score_chunk(
    sims: torch.Tensor, r_query: torch.Tensor | None, r_key: torch.Tensor | None, scoring: Scoring
) -> torch.Tensor:
    if scoring == Scoring.cosine:
        return sims
    if scoring == Scoring.csls:
        return 2 * sims - r_query[:, None] - r_key[None, :]
    return sims / ((r_query[:, None] + r_key[None, :]) / 2)


def retrieve(
    queries: torch.Tensor,
    keys: torch.Tensor,
    k: int = 1,
    scoring: Scoring | str = Scoring.cosine,
    knn: int = 10,
    chunk: int | None = None,
    query_space: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k keys for every query: (scores, indices), each [n_queries, k].

    Inputs must be L2-normalised (`normalize`), so a dot product is a cosine. A key's hubness
    term (CSLS, margin) is its neighbourhood among `query_space` (default: the queries), so a
    few test queries can be scored against the hubness of the whole source vocabulary.
    """
    scoring = Scoring(scoring)
    chunk = chunk or chunk_rows(keys.shape[0])
    r_query = r_key = None
    if scoring != Scoring.cosine:
        space = queries if query_space is None else query_space
        r_query = mean_neighbour_similarity(queries, keys, knn, chunk)
        r_key = mean_neighbour_similarity(keys, space, knn, chunk_rows(space.shape[0]))
    k = min(k, keys.shape[0])
    scores, indices = [], []
    for s in _chunks(len(queries), chunk):
        r_q = r_query[s] if r_query is not None else None
        top = _score_chunk(queries[s] @ keys.T, r_q, r_key, scoring).topk(k, dim=1)
        scores.append(top.values)
        indices.append(top.indices)
    return torch.cat(scores), torch.cat(indices)


def precision_at_k(predicted: torch.Tensor, gold: list[set[int]], ks: tuple[int, ...] = (1, 5)):
    """P@k, named "p1", "p5": the share of queries with a correct key among their top k
    (any of a query's gold keys counts)."""
    out = {}
    for k in ks:
        hits = [bool(gold[i] & set(predicted[i, :k].tolist())) for i in range(len(gold))]
        out[f"p{k}"] = sum(hits) / max(len(hits), 1)
    return out
