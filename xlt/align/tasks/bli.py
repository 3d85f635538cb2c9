"""Bilingual lexicon induction: map source-language word vectors onto target-language ones
(identity, Procrustes, + refinement, adversarial + refinement) and score P@1/P@5 on held-out
dictionary words, with nearest-neighbour and CSLS retrieval."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import OmegaConf

from xlt.align.adversarial import AdversarialSettings, unsupervised_map
from xlt.align.dictionary import dictionary_pairs
from xlt.align.embed import cached_word_vectors
from xlt.align.job import AlignJob
from xlt.align.procrustes import apply_map, procrustes, refine
from xlt.align.retrieval import Scoring, normalize, precision_at_k, retrieve
from xlt.align.tasks.common import markdown, text_encoder
from xlt.align.vectors import frequency_words, read_vec, read_word_list, write_vec
from xlt.errors import ConfigError, DataError

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
    mapped = normalize(mapped)
    gold = [test[q] for q in queries]
    out = {}
    for scoring in (Scoring.cosine, Scoring.csls):
        # Only the test words are queried, but CSLS's hubness of a target word is measured
        # against the whole mapped source vocabulary, as MUSE does.
        _, top = retrieve(mapped[queries], target, 10, scoring, knn, query_space=mapped)
        for name, value in precision_at_k(top, gold, ks=(1, 5, 10)).items():  # MUSE's
            out[f"{scoring.value}/{name}"] = value
    return out


def dictionary_vocabulary(train, test) -> tuple[list[str], list[str]]:
    """Without vectors or vocabulary files: the dictionary's own words."""
    pairs = [*train, *test]
    return sorted({s for s, _ in pairs}), sorted({t for _, t in pairs})


def index_pairs(train, test, src_words, tgt_words):
    """Training pairs as index pairs and the test gold (source index -> every correct target
    index) over the vocabularies; pairs with a word outside them are dropped and counted."""
    s_index = {w: i for i, w in enumerate(src_words)}
    t_index = {w: i for i, w in enumerate(tgt_words)}

    def known(pairs):
        return [(s_index[s], t_index[t]) for s, t in pairs if s in s_index and t in t_index]

    kept_train, kept_test = known(train), known(test)
    test_gold: dict[int, set[int]] = {}
    for s, t in kept_test:
        test_gold.setdefault(s, set()).add(t)
    dropped = {"dict/dropped_train_pairs": len(train) - len(kept_train),
               "dict/dropped_test_pairs": len(test) - len(kept_test)}  # fmt: skip
    return torch.tensor(kept_train).reshape(-1, 2), test_gold, dropped


def file_vectors(vectors: dict, max_vocab: int):
    """`task.vectors.source/target`: fastText `.vec` files, the first `max_vocab` words."""

    if not (vectors.get("source") and vectors.get("target")):
        raise ConfigError("task.vectors: give both source= and target= .vec files")
    src_words, X = read_vec(vectors["source"], max_vocab)
    tgt_words, Y = read_vec(vectors["target"], max_vocab)
    if X.shape[1] != Y.shape[1]:
        raise ConfigError(f"task.vectors: {X.shape[1]}-d source and {Y.shape[1]}-d target "
                          "vectors; an orthogonal map needs equal dimensions")  # fmt: skip
    return src_words, tgt_words, preprocess(X), preprocess(Y)


def encoder_vocabulary(vocabulary: dict | None, train, test, langs: tuple[str, str]):
    """The words the encoders embed, most frequent first: `frequency` (an offline frequency
    list of the language), a word-list file, or null (the dictionary's own words)."""

    spaces = list(dictionary_vocabulary(train, test))
    vocabulary = vocabulary or {}
    size = int(vocabulary.get("size") or 20_000)
    for side, (key, lang) in enumerate(zip(("source", "target"), langs, strict=True)):
        choice = vocabulary.get(key)
        if choice == "frequency":
            spaces[side] = frequency_words(lang, size)
        elif choice:
            spaces[side] = read_word_list(choice, size)
    return spaces[0], spaces[1]


def word_vectors(job: AlignJob, src_words, tgt_words, source_layer: int, target_layer: int):
    """Static word vectors of both vocabularies from the encoders (cached), normalised as MUSE
    does."""
    cache = job.cache_dir
    src_enc = text_encoder(job.source_encoder, "source_encoder")
    tgt_enc = text_encoder(job.encoder, "encoder")
    X = preprocess(
        cached_word_vectors(src_enc, src_words, source_layer, cache, src_enc.bundle.name)
    )
    Y = preprocess(
        cached_word_vectors(tgt_enc, tgt_words, target_layer, cache, tgt_enc.bundle.name)
    )
    if X.shape[1] != Y.shape[1]:
        raise ConfigError(
            f"source_encoder ({X.shape[1]}-d) and encoder ({Y.shape[1]}-d) differ in size; "
            "linear orthogonal mapping needs equal dimensions."
        )
    return X, Y


def learn_maps(X, Y, train_pairs, methods, knn, refinement, adversarial, tracker):
    """Each requested mapping (identity always, as the floor). `refinement`: iterations, the
    dictionary-building mode and max rank (MUSE's n_refinement, dico_build, dico_max_rank)."""
    refinement_iterations = refinement.get("iterations", 5)
    maps: dict[str, torch.Tensor] = {"identity": torch.eye(X.shape[1])}
    if {"procrustes", "procrustes+refine"} & set(methods):
        maps["procrustes"] = procrustes(X[train_pairs[:, 0]], Y[train_pairs[:, 1]])
    if "procrustes+refine" in methods:  # refinement is the costly part: only when asked for
        maps["procrustes+refine"], _ = refine(
            X,
            Y,
            maps["procrustes"],
            refinement_iterations,
            knn=knn,
            seed_pairs=train_pairs,
            max_rank=refinement.get("max_rank"),
            mode=refinement.get("mode", "S2T&T2S"),
        )
    if {"adversarial", "adversarial+refine"} & set(methods):
        settings = AdversarialSettings(
            **(OmegaConf.to_container(adversarial) if adversarial else {}),
            refinement_iterations=refinement_iterations,
            refinement_mode=refinement.get("mode", "S2T&T2S"),
            refinement_max_rank=refinement.get("max_rank") or 15_000,
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


def vectors_and_pairs(job, train, test, vectors, vocabulary, max_vocab, layers, langs, tracker):
    """Both spaces' vectors (files, or encoders over a vocabulary) and the dictionary over them:
    training index pairs and the test gold. Pairs outside the vocabularies are dropped and
    counted, as MUSE does."""

    if vectors and any(vectors.values()):
        src_words, tgt_words, X, Y = file_vectors(vectors, max_vocab)
    else:
        src_words, tgt_words = encoder_vocabulary(vocabulary, train, test, langs)
        X, Y = word_vectors(job, src_words, tgt_words, *layers)
    train_pairs, test_gold, dropped = index_pairs(train, test, src_words, tgt_words)
    if any(dropped.values()):
        print(f"dictionary pairs with a word outside the vocabularies, dropped as MUSE does: "
              f"{dropped['dict/dropped_train_pairs']} of {len(train)} training, "
              f"{dropped['dict/dropped_test_pairs']} of {len(test)} test")  # fmt: skip
    if not len(test_gold) or not len(train_pairs):
        raise DataError("no training or no test pair has both words in the vocabularies: "
                        "raise task.max_vocab or check the dictionary's languages")  # fmt: skip
    tracker.log_metrics({"dict/pairs": len(train) + len(test), "vocab/source": len(src_words),
                         "dict/train_pairs": len(train_pairs), "vocab/target": len(tgt_words),
                         "dict/test_source_words": len(test_gold), **dropped})  # fmt: skip
    return Spaces(X, Y, src_words, tgt_words), train_pairs, test_gold


@dataclass
class Spaces:
    """Both vocabularies and their (normalised) vectors, rows in vocabulary order."""

    X: torch.Tensor
    Y: torch.Tensor
    src_words: list[str]
    tgt_words: list[str]


def export_alignment(spaces: Spaces, maps: dict, method: str, n_words: int, langs, out_dir,
                     tracker) -> None:  # fmt: skip
    """What a user takes away (MUSE's exports): every mapping matrix (`.npy`, source -> target
    as `x @ W.T`), and the first `n_words` words of both spaces in the aligned space as `.vec`
    files (the source mapped by `method`)."""
    import numpy as np

    folder = Path(out_dir) / "alignment"
    folder.mkdir(parents=True, exist_ok=True)
    for name, mapping in maps.items():
        path = folder / f"mapping_{name.replace('+', '_')}.npy"
        np.save(path, mapping.numpy())
        tracker.log_file(path)
    mapped = apply_map(spaces.X[:n_words], maps[method])
    for lang, words, vectors in ((langs[0], spaces.src_words, mapped),
                                 (langs[1], spaces.tgt_words, spaces.Y[:n_words])):  # fmt: skip
        tracker.log_file(write_vec(folder / f"vectors-{lang}.vec", words[:n_words], vectors))
    induced = write_induced_dictionary(spaces, apply_map(spaces.X, maps[method]), n_words,
                                       folder / f"induced-{langs[0]}-{langs[1]}.txt")  # fmt: skip
    tracker.log_file(induced)
    tracker.set_tags({"alignment.export_method": method,
                      "induced_dictionary": str(induced.resolve())})  # fmt: skip


def write_induced_dictionary(spaces: Spaces, mapped: torch.Tensor, n_words: int, path: Path):
    """The induced translation table (MUSE's format, `source target` per line): each of the
    first `n_words` source words and its CSLS nearest target word in the whole target
    vocabulary. `augmentation.translator.dictionaries.<target>=RUN_ID` reads it: align, induce,
    then code-switch or translate, with no dictionary for the pair."""
    _, nearest = retrieve(normalize(mapped[:n_words]), spaces.Y, k=1, scoring=Scoring.csls,
                          query_space=normalize(mapped))  # fmt: skip
    lines = [f"{spaces.src_words[i]} {spaces.tgt_words[int(j)]}\n"
             for i, j in enumerate(nearest[:, 0].tolist())]  # fmt: skip
    path.write_text("".join(lines), encoding="utf-8")
    return path


def check_options(job: AlignJob, methods, export_method: str | None) -> None:
    unknown = (set(methods) | ({export_method} if export_method else set())) - set(METHODS)
    if unknown:
        raise ConfigError(f"task.methods: unknown {sorted(unknown)}; choose from {list(METHODS)}")
    if job.dataset.limit is not None:
        log.warning(
            "dataset.limit=%s does not apply to task=bli: it reads a dictionary, not dataset "
            "rows (task.test_words sets the test size)",
            job.dataset.limit,
        )


def score_methods(spaces: Spaces, maps: dict, methods, test_gold, knn: int):
    """The BLI table (a row per method) and its metrics."""
    rows, metrics = [], {}
    for method in methods:
        scores = evaluate(apply_map(spaces.X, maps[method]), spaces.Y, test_gold, knn)
        rows.append({"method": method, **scores})
        metrics |= {f"bli/{method.replace('+', '_')}/{k}": v for k, v in scores.items()}
    return rows, metrics


def run(
    job: AlignJob,
    tracker,
    source_lang: str = "en",
    target_lang: str = "zh",
    source_layer: int = -1,
    target_layer: int = -1,
    test_words: int = 500,
    split_seed: int = 0,
    cedict: bool = False,
    dictionary: dict | None = None,
    vectors: dict | None = None,
    vocabulary: dict | None = None,
    max_vocab: int = 200_000,
    knn: int = 10,
    refinement_iterations: int = 5,
    refinement: dict | None = None,
    methods: list[str] = METHODS,
    export_method: str | None = None,
    export_vocab: int = 10_000,
    adversarial: dict | None = None,
    name: str = "bli",
) -> dict[str, float]:
    check_options(job, methods, export_method)
    train, test, origin = dictionary_pairs(dictionary, source_lang, cedict, test_words,
                                           split_seed, target_lang)  # fmt: skip
    files = {f"dictionary.{k}": str(v) for k, v in (dictionary or {}).items() if v}
    files |= {f"vectors.{k}": str(v) for k, v in (vectors or {}).items() if v}
    tracker.set_tags({"dictionary": origin, "source_lang": source_lang,
                      "target_lang": target_lang, **files})  # fmt: skip
    spaces, train_pairs, test_gold = vectors_and_pairs(
        job, train, test, vectors, vocabulary, max_vocab, (source_layer, target_layer),
        (source_lang, target_lang), tracker)  # fmt: skip
    refine_with = {"iterations": refinement_iterations, **(refinement or {})}
    maps = learn_maps(spaces.X, spaces.Y, train_pairs, methods, knn, refine_with, adversarial,
                      tracker)  # fmt: skip
    rows, metrics = score_methods(spaces, maps, methods, test_gold, knn)
    tracker.log_metrics(metrics)
    tracker.log_table("bli.csv", rows)
    export_alignment(spaces, maps, export_method or methods[-1], export_vocab,
                     (source_lang, target_lang), job.output_dir, tracker)  # fmt: skip
    table = markdown(rows)
    tracker.log_text("bli.md", table + "\n")
    print(f"\nBLI {source_lang}->{target_lang}: {len(test_gold)} held-out source words\n{table}")
    return metrics
