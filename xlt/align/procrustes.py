"""Supervised word-level mapping: orthogonal Procrustes and iterative refinement (MUSE)."""

from __future__ import annotations

import torch

from xlt.align.retrieval import Scoring, normalize, retrieve


def procrustes(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The orthogonal W minimising ||source W^T - target|| (rows are dictionary pairs).

    Closed form: W = U V^T with U S V^T the SVD of target^T source.
    """
    u, _, vt = torch.linalg.svd(target.double().T @ source.double())
    return (u @ vt).to(source.dtype)


def apply_map(vectors: torch.Tensor, mapping: torch.Tensor) -> torch.Tensor:
    return vectors @ mapping.T


def induce_dictionary(
    mapped_source: torch.Tensor,
    target: torch.Tensor,
    scoring: Scoring | str = Scoring.csls,
    knn: int = 10,
    max_rank: int | None = None,
) -> torch.Tensor:
    """Pairs (i, j) that are each other's nearest neighbour both ways (MUSE's S2T&T2S).

    `max_rank` keeps only the first words of each vocabulary (the most frequent, in MUSE).
    """
    src, tgt = normalize(mapped_source[:max_rank]), normalize(target[:max_rank])
    _, forward = retrieve(src, tgt, k=1, scoring=scoring, knn=knn)
    _, backward = retrieve(tgt, src, k=1, scoring=scoring, knn=knn)
    forward, backward = forward[:, 0], backward[:, 0]
    mutual = backward[forward] == torch.arange(len(src))
    i = torch.nonzero(mutual).squeeze(1)
    return torch.stack([i, forward[i]], dim=1)


def refine(
    source: torch.Tensor,
    target: torch.Tensor,
    mapping: torch.Tensor,
    iterations: int = 5,
    scoring: Scoring | str = Scoring.csls,
    knn: int = 10,
    max_rank: int | None = None,
    seed_pairs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[int]]:
    """Alternate: induce a dictionary with the current map, refit Procrustes on it.

    With `seed_pairs` the seed dictionary is kept in every refit (supervised refinement);
    returns the final map and the induced dictionary's size per iteration.
    """
    sizes = []
    for _ in range(iterations):
        pairs = induce_dictionary(apply_map(source, mapping), target, scoring, knn, max_rank)
        if seed_pairs is not None:
            pairs = torch.unique(torch.cat([pairs, seed_pairs]), dim=0)
        sizes.append(len(pairs))
        if len(pairs) < 2:
            break
        mapping = procrustes(source[pairs[:, 0]], target[pairs[:, 1]])
    return mapping, sizes


def mean_cosine_criterion(
    source: torch.Tensor, target: torch.Tensor, mapping: torch.Tensor, n_words: int = 10000
) -> float:
    """MUSE's unsupervised model-selection criterion: the mean cosine between the first
    `n_words` mapped source words and their CSLS translations (no dictionary needed)."""
    src = normalize(apply_map(source[:n_words], mapping))
    tgt = normalize(target)
    _, idx = retrieve(src, tgt, k=1, scoring=Scoring.csls)
    return float((src * tgt[idx[:, 0]]).sum(1).mean())
