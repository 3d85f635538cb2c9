"""Supervised word-level mapping: orthogonal Procrustes and iterative refinement (MUSE)."""

from __future__ import annotations

import torch

from xlt.align.retrieval import Scoring, normalize, retrieve
from xlt.errors import ConfigError


def procrustes(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The orthogonal W minimising ||source W^T - target|| (rows are dictionary pairs).

    Closed form: W = U V^T with U S V^T the SVD of target^T source.
    """
    u, _, vt = torch.linalg.svd(target.double().T @ source.double())
    return (u @ vt).to(source.dtype)


def apply_map(vectors: torch.Tensor, mapping: torch.Tensor) -> torch.Tensor:
    return vectors @ mapping.T


DICTIONARY_MODES = ("S2T", "T2S", "S2T|T2S", "S2T&T2S")  # MUSE's dico_build


def induce_dictionary(
    mapped_source: torch.Tensor,
    target: torch.Tensor,
    scoring: Scoring | str = Scoring.csls,
    knn: int = 10,
    max_rank: int | None = None,
    mode: str = "S2T&T2S",
) -> torch.Tensor:
    """Pairs (i, j) from nearest neighbours, as MUSE builds its refinement dictionary: each
    source word's best target (S2T), each target word's best source (T2S), their union
    (S2T|T2S) or the mutual pairs (S2T&T2S, the default).

    As MUSE's `get_candidates`: only the first `max_rank` words of each side (the most
    frequent; MUSE: 15,000) are queried and kept, but every search runs over the whole other
    vocabulary, CSLS's hubness terms included; a pair whose best match lies past the rank
    limit is dropped, not replaced by the best match within it."""
    if mode not in DICTIONARY_MODES:
        raise ConfigError(f"refinement mode {mode!r}: choose from {list(DICTIONARY_MODES)}")
    src, tgt = normalize(mapped_source), normalize(target)
    n_src, n_tgt = min(max_rank or len(src), len(src)), min(max_rank or len(tgt), len(tgt))
    _, forward = retrieve(src[:n_src], tgt, k=1, scoring=scoring, knn=knn, query_space=src)
    _, backward = retrieve(tgt[:n_tgt], src, k=1, scoring=scoring, knn=knn, query_space=tgt)
    s2t = {(i, j) for i, j in enumerate(forward[:, 0].tolist()) if j < n_tgt}
    t2s = {(i, j) for j, i in enumerate(backward[:, 0].tolist()) if i < n_src}
    pairs = {"S2T": s2t, "T2S": t2s, "S2T|T2S": s2t | t2s, "S2T&T2S": s2t & t2s}[mode]
    return torch.tensor(sorted(pairs), dtype=torch.long).reshape(-1, 2)


def refine(
    source: torch.Tensor,
    target: torch.Tensor,
    mapping: torch.Tensor,
    iterations: int = 5,
    scoring: Scoring | str = Scoring.csls,
    knn: int = 10,
    max_rank: int | None = None,
    seed_pairs: torch.Tensor | None = None,
    mode: str = "S2T&T2S",
) -> tuple[torch.Tensor, list[int]]:
    """Alternate: induce a dictionary with the current map, refit Procrustes on it.

    With `seed_pairs` the seed dictionary is kept in every refit (supervised refinement);
    returns the final map and the induced dictionary's size per iteration.
    """
    sizes = []
    for _ in range(iterations):
        pairs = induce_dictionary(apply_map(source, mapping), target, scoring, knn, max_rank,
                                  mode)  # fmt: skip
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
    """MUSE's unsupervised model-selection criterion (`mean_cosine-csls_knn_10-S2T-10000`): the
    mean cosine of the S2T CSLS dictionary of the first `n_words` mapped source words (built as
    refinement builds it: whole-vocabulary search, targets past rank `n_words` dropped); no
    dictionary needed."""
    src, tgt = normalize(apply_map(source, mapping)), normalize(target)
    pairs = induce_dictionary(src, tgt, Scoring.csls, knn=10, max_rank=n_words, mode="S2T")
    if len(pairs) == 0:
        return -1e9  # MUSE's score for an empty dictionary
    return float((src[pairs[:, 0]] * tgt[pairs[:, 1]]).sum(1).mean())
