"""Bilingual lexicon induction: map source-language word vectors onto target-language ones
(identity, Procrustes, + refinement, adversarial + refinement) and score P@1/P@5 on held-out
dictionary words, with nearest-neighbour and CSLS retrieval."""

from __future__ import annotations

import logging

import torch
from omegaconf import DictConfig, OmegaConf

from xlt.align.adversarial import AdversarialSettings, unsupervised_map
from xlt.align.dictionary import dictionary_pairs
from xlt.align.embed import cached_word_vectors
from xlt.align.procrustes import apply_map, procrustes, refine
from xlt.align.retrieval import Scoring, normalize, precision_at_k, retrieve
from xlt.align.tasks.common import markdown, text_encoder

log = logging.getLogger(__name__)
METHODS = ("identity", "procrustes", "procrustes+refine", "adversarial", "adversarial+refine")


def preprocess(vectors: torch.Tensor) -> torch.Tensor:
    """Unit length, mean-centred, unit length again (the usual 'renorm,center,renorm')."""
    vectors = normalize(vectors)
    return normalize(vectors - vectors.mean(0))


def evaluate(
    mapped: torch.Tensor, target: torch.Tensor, test: dict[int, set[int]], knn: int
) -> dict[str, float]:
    queries = sorted(test)
    out = {}
    for scoring in (Scoring.cosine, Scoring.csls):
        # CSLS's hubness terms use the whole source vocabulary, not just the test words.
        _, top = retrieve(normalize(mapped), target, 5, scoring, knn)
        for name, value in precision_at_k(top[queries], [test[q] for q in queries]).items():
            out[f"{scoring.value}/{name}"] = value
    return out


def indexed_dictionary(train, test):
    """Vocabularies (the dictionary's words), training pairs as index pairs, and the test gold
    (source index -> every correct target index)."""
    pairs = [*train, *test]
    src_words = sorted({s for s, _ in pairs})
    tgt_words = sorted({t for _, t in pairs})
    s_index = {w: i for i, w in enumerate(src_words)}
    t_index = {w: i for i, w in enumerate(tgt_words)}
    train_pairs = torch.tensor([[s_index[s], t_index[t]] for s, t in train])
    test_gold: dict[int, set[int]] = {}
    for s, t in test:
        test_gold.setdefault(s_index[s], set()).add(t_index[t])
    return src_words, tgt_words, train_pairs, test_gold


def word_vectors(cfg: DictConfig, src_words, tgt_words, source_layer: int, target_layer: int):
    """Static word vectors of both vocabularies (cached), normalised as MUSE does."""
    cache = cfg.paths.cache_dir
    src_enc = text_encoder(cfg.source_encoder, "source_encoder")
    tgt_enc = text_encoder(cfg.encoder, "encoder")
    X = preprocess(
        cached_word_vectors(src_enc, src_words, source_layer, cache, src_enc.bundle.name)
    )
    Y = preprocess(
        cached_word_vectors(tgt_enc, tgt_words, target_layer, cache, tgt_enc.bundle.name)
    )
    if X.shape[1] != Y.shape[1]:
        from xlt.errors import ConfigError

        raise ConfigError(
            f"source_encoder ({X.shape[1]}-d) and encoder ({Y.shape[1]}-d) differ in size; "
            "linear orthogonal mapping needs equal dimensions."
        )
    return X, Y


def learn_maps(X, Y, train_pairs, methods, knn, refinement_iterations, adversarial, tracker):
    """Each requested mapping (identity always, as the floor)."""
    maps: dict[str, torch.Tensor] = {"identity": torch.eye(X.shape[1])}
    if {"procrustes", "procrustes+refine"} & set(methods):
        maps["procrustes"] = procrustes(X[train_pairs[:, 0]], Y[train_pairs[:, 1]])
        maps["procrustes+refine"], _ = refine(
            X, Y, maps["procrustes"], refinement_iterations, knn=knn, seed_pairs=train_pairs
        )
    if {"adversarial", "adversarial+refine"} & set(methods):
        settings = AdversarialSettings(
            **(OmegaConf.to_container(adversarial) if adversarial else {}),
            refinement_iterations=refinement_iterations,
        )

        def on_epoch(step: int, logs: dict[str, float]) -> None:
            log.info("adversarial %s", logs)
            tracker.log_metrics(
                {f"adversarial/{k}": v for k, v in logs.items() if k not in ("epoch", "restart")}
                | {"adversarial/step": step}
            )

        maps["adversarial"], maps["adversarial+refine"], _ = unsupervised_map(
            X, Y, settings, on_epoch
        )
    return maps


def run(
    cfg: DictConfig,
    tracker,
    source_lang: str = "en",
    target_lang: str = "zh",
    source_layer: int = -1,
    target_layer: int = -1,
    test_words: int = 500,
    split_seed: int = 0,
    cedict: bool = False,
    dictionary: dict | None = None,
    knn: int = 10,
    refinement_iterations: int = 5,
    methods: list[str] = METHODS,
    adversarial: dict | None = None,
    name: str = "bli",
) -> dict[str, float]:
    unknown = set(methods) - set(METHODS)
    if unknown:
        from xlt.errors import ConfigError

        raise ConfigError(f"task.methods: unknown {sorted(unknown)}; choose from {list(METHODS)}")
    if cfg.dataset.limit is not None:
        log.warning(
            "dataset.limit=%s does not apply to task=bli: it reads a dictionary, not dataset "
            "rows (task.test_words sets the test size)",
            cfg.dataset.limit,
        )
    train, test, origin = dictionary_pairs(dictionary, source_lang, cedict, test_words,
                                           split_seed)  # fmt: skip
    files = {f"dictionary.{k}": str(v) for k, v in (dictionary or {}).items() if v}
    tracker.set_tags({"dictionary": origin, **files})
    src_words, tgt_words, train_pairs, test_gold = indexed_dictionary(train, test)
    sizes = {"dict/pairs": len(train) + len(test), "dict/train_pairs": len(train_pairs),
             "dict/test_source_words": len(test_gold), "vocab/source": len(src_words),
             "vocab/target": len(tgt_words)}  # fmt: skip
    tracker.log_metrics(sizes)
    X, Y = word_vectors(cfg, src_words, tgt_words, source_layer, target_layer)
    maps = learn_maps(X, Y, train_pairs, methods, knn, refinement_iterations, adversarial, tracker)
    rows, metrics = [], {}
    for method in methods:
        scores = evaluate(apply_map(X, maps[method]), Y, test_gold, knn)
        rows.append({"method": method, **scores})
        metrics |= {f"bli/{method.replace('+', '_')}/{k}": v for k, v in scores.items()}
    tracker.log_metrics(metrics)
    tracker.log_table("bli.csv", rows)
    table = markdown(rows)
    tracker.log_text("bli.md", table + "\n")
    print(f"\nBLI {source_lang}->{target_lang}: {len(test_gold)} held-out source words\n{table}")
    return metrics
