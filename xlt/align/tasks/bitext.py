"""Parallel sentence retrieval (P@1 both ways, xsim error) and bitext mining from pools with
unpaired distractors, scored by cosine, CSLS and ratio margin."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from xlt.align.bitext import mine, retrieval_accuracy
from xlt.align.tasks.common import markdown, parallel_pairs, text_encoder
from xlt.config.validate import build, resolve_languages
from xlt.data.access import Purpose

SCORINGS = ("cosine", "csls", "margin")


def distractor_pools(
    data, split: str, source: str, target: str, limit: int | None
) -> tuple[list[str], list[str]]:
    """Unpaired sentences: source texts of one half of `split`, target texts of the other."""
    ids, src, tgt = parallel_pairs(data, split, source, target, purpose=Purpose.evaluation,
                                   limit=limit)  # fmt: skip
    half = len(ids) // 2
    return src[:half], tgt[half:]


def run(
    cfg: DictConfig,
    tracker,
    split: str = "test",
    distractor_split: str = "dev",
    scorings: list[str] = SCORINGS,
    knn: int = 4,
    weights: str | None = None,
    name: str = "bitext",
) -> dict[str, float]:
    data = build(cfg.dataset.loader, "dataset.loader")
    source, targets = resolve_languages(cfg, data)
    encoder = text_encoder(cfg.encoder, "encoder", weights, tracker.client)
    rows, metrics = [], {}
    for target in targets:
        _, src_texts, tgt_texts = parallel_pairs(data, split, source, target,
                                                 purpose=Purpose.evaluation,
                                                 limit=cfg.dataset.limit)  # fmt: skip
        extra_src, extra_tgt = distractor_pools(data, distractor_split, source, target,
                                                cfg.dataset.limit)  # fmt: skip
        src = encoder.sentences(src_texts + extra_src)
        tgt = encoder.sentences(tgt_texts + extra_tgt)
        n = len(src_texts)
        gold = {i: i for i in range(n)}
        for scoring in scorings:
            scores = retrieval_accuracy(src[:n], tgt[:n], scoring, knn)
            scores |= {f"mine/{k}": v for k, v in mine(src, tgt, gold, scoring, knn).items()}
            rows.append({"pair": f"{source}-{target}", "scoring": scoring, **scores})
            metrics |= {f"bitext/{source}-{target}/{scoring}/{k}": v for k, v in scores.items()}
        tracker.log_metrics(
            {
                f"bitext/{source}-{target}/pairs": n,
                f"bitext/{source}-{target}/distractors": len(extra_src),
            }
        )
    tracker.log_metrics(metrics)
    tracker.log_table("bitext.csv", rows)
    table = markdown(rows)
    tracker.log_text("bitext.md", table + "\n")
    print(
        f"\nBitext retrieval on {split} pairs, mining with {distractor_split} distractors\n{table}"
    )
    return metrics


def pair_embeddings(encoder, data, split, source, target, layers=None, limit=None):
    _, src_texts, tgt_texts = parallel_pairs(data, split, source, target,
                                             purpose=Purpose.evaluation, limit=limit)  # fmt: skip
    return encoder.sentences(src_texts, layers), encoder.sentences(tgt_texts, layers)


def layer_accuracy(src: torch.Tensor, tgt: torch.Tensor, scoring: str = "cosine") -> list[float]:
    """P@1 (mean of both directions) per layer from [layers, n, dim] embeddings."""
    return [
        1 - retrieval_accuracy(s, t, scoring)["xsim_error"] for s, t in zip(src, tgt, strict=True)
    ]
