"""Parallel sentence retrieval and bitext mining scores (Artetxe & Schwenk 2019; xsim)."""

from __future__ import annotations

import torch

from xlt.align.retrieval import Scoring, normalize, retrieve


def retrieval_accuracy(
    source: torch.Tensor, target: torch.Tensor, scoring: Scoring | str, knn: int = 4
) -> dict[str, float]:
    """Row i of `source` translates row i of `target`: P@1 both ways and the xsim error rate
    (the share of sentences whose best match is not their translation, averaged both ways)."""
    src, tgt = normalize(source), normalize(target)
    gold = torch.arange(len(src))
    _, forward = retrieve(src, tgt, 1, scoring, knn)
    _, backward = retrieve(tgt, src, 1, scoring, knn)
    p_fwd = float((forward[:, 0] == gold).float().mean())
    p_bwd = float((backward[:, 0] == gold).float().mean())
    return {"p1_fwd": p_fwd, "p1_bwd": p_bwd, "xsim_error": 1 - (p_fwd + p_bwd) / 2}


def mine(
    source: torch.Tensor,
    target: torch.Tensor,
    gold: dict[int, int],
    scoring: Scoring | str,
    knn: int = 4,
) -> dict[str, float]:
    """Mine one candidate per source sentence (its best target) from pools that hold unpaired
    sentences too; rank candidates by score. `gold` maps source rows to their translation.

    Returns average precision over the ranking (recall relative to all gold pairs) and the
    precision / recall / F1 at the best threshold (an oracle threshold: it shows the ceiling).
    """
    scores, best = retrieve(normalize(source), normalize(target), 1, scoring, knn)
    scores, best = scores[:, 0], best[:, 0]
    correct = torch.tensor([gold.get(i) == int(j) for i, j in enumerate(best)], dtype=torch.float)
    order = scores.argsort(descending=True)
    hits = correct[order].cumsum(0)
    kept = torch.arange(1, len(order) + 1, dtype=torch.float)
    precision, recall = hits / kept, hits / max(len(gold), 1)
    f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
    at = int(f1.argmax())
    ap = float((precision * correct[order]).sum() / max(len(gold), 1))
    return {
        "average_precision": ap,
        "precision": float(precision[at]),
        "recall": float(recall[at]),
        "f1": float(f1[at]),
        "threshold": float(scores[order][at]),
    }


def mined_pairs(
    source: torch.Tensor,
    target: torch.Tensor,
    scoring: Scoring | str = "margin",
    knn: int = 4,
    mode: str = "intersect",
) -> list[tuple[int, int, float]]:
    """Candidate translations mined from two unaligned pools, best first: (source row, target
    row, score). `forward`: each source sentence's best target; `intersect`: only pairs that
    are each other's best in both directions (Artetxe & Schwenk's strict mining); `union`:
    both directions' best. The ratio margin and CSLS are symmetric, so a pair's score is the
    same from either side."""
    src, tgt = normalize(source), normalize(target)
    fwd_scores, fwd = retrieve(src, tgt, 1, scoring, knn)
    pairs = {(i, int(j)): float(s) for i, (j, s) in enumerate(zip(fwd[:, 0], fwd_scores[:, 0],
                                                                  strict=True))}  # fmt: skip
    if mode != "forward":
        bwd_scores, bwd = retrieve(tgt, src, 1, scoring, knn)
        backward = {(int(i), j): float(s)
                    for j, (i, s) in enumerate(zip(bwd[:, 0], bwd_scores[:, 0],
                                                   strict=True))}  # fmt: skip
        if mode == "intersect":
            pairs = {key: score for key, score in pairs.items() if key in backward}
        else:
            pairs = {**backward, **pairs}
    return sorted(((i, j, s) for (i, j), s in pairs.items()), key=lambda p: -p[2])
