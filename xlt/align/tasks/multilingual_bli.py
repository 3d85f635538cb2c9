"""MUSE's multilingual setting: every language's word vectors mapped into the English space
(Procrustes on its gettext dictionary with English, optionally refined), scored per language
(a table of languages x methods), then used to translate between two non-English languages
through that shared space, with no dictionary for the pair (Conneau et al. 2018; Chen & Cardie
2018 learn all maps jointly).

The gold for a non-English pair comes from the catalogues as well: one-word messages of both
languages that translate the same held-out English word. Held-out English words stay out of
every language's training pairs, so no test word of any pair was seen by any map."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import combinations

import torch

from xlt.align.dictionary import gettext_dictionary
from xlt.align.embed import cached_word_vectors
from xlt.align.job import AlignJob
from xlt.align.procrustes import apply_map, procrustes, refine
from xlt.align.retrieval import normalize
from xlt.align.tasks.bli import evaluate, preprocess
from xlt.align.tasks.common import markdown, text_encoder
from xlt.align.vectors import frequency_words
from xlt.errors import ConfigError, DataError

PIVOT = "en"  # the catalogues translate English messages: English is the shared space
METHODS = ("identity", "procrustes", "procrustes+refine")


@dataclass
class Language:
    """One language's words, vectors and dictionary with English (English index, own index)."""

    words: list[str]
    vectors: torch.Tensor
    train: torch.Tensor  # [n, 2] (English index, own index), held-out English words excluded
    test: dict[int, set[int]]  # own index -> the English indices of its held-out translation
    by_english: dict[str, set[int]]  # held-out English word -> own indices translating it


def held_out_english(dictionaries: dict[str, list], test_words: int, seed: int) -> set[str]:
    """`test_words` English words with a translation in at least two languages (so pairs
    between them have gold), drawn with `seed`."""
    counts: dict[str, int] = {}
    for pairs in dictionaries.values():
        for english in {en for en, _ in pairs}:
            counts[english] = counts.get(english, 0) + 1
    shared = sorted(word for word, n in counts.items() if n >= 2)
    if len(shared) <= test_words:
        raise DataError(f"task.test_words={test_words}: the catalogues share only "
                        f"{len(shared)} English words across two or more of the languages; "
                        "lower task.test_words or add languages")  # fmt: skip
    return set(random.Random(seed).sample(shared, test_words))


def vocabulary(pairs: list, side: int, lang: str, extra_words: int) -> list[str]:
    """The dictionary's words of one side, then the language's most frequent words (a larger
    search space, as MUSE searches the whole vocabulary)."""
    words = sorted({pair[side] for pair in pairs})
    known = set(words)
    extra = frequency_words(lang, extra_words) if extra_words else []
    return words + [w for w in extra if w not in known]


def language(pairs, words, vectors, english_index, held_out) -> Language:
    own = {w: i for i, w in enumerate(words)}
    train, test, by_english = [], {}, {}
    for english, word in pairs:
        if english in held_out:
            test.setdefault(own[word], set()).add(english_index[english])
            by_english.setdefault(english, set()).add(own[word])
        else:
            train.append((english_index[english], own[word]))
    return Language(words, vectors, torch.tensor(train).reshape(-1, 2), test, by_english)


def maps_into_english(lang: Language, english: torch.Tensor, methods, knn: int, refinement):
    """Each method's map of the language's vectors into the English space (`x @ W.T`)."""
    maps = {"identity": torch.eye(english.shape[1])}
    seed = lang.train.flip(1)  # (own index, English index)
    if {"procrustes", "procrustes+refine"} & set(methods):
        maps["procrustes"] = procrustes(lang.vectors[seed[:, 0]], english[seed[:, 1]])
    if "procrustes+refine" in methods:
        maps["procrustes+refine"], _ = refine(
            lang.vectors, english, maps["procrustes"], refinement.get("iterations", 5), knn=knn,
            seed_pairs=seed, max_rank=refinement.get("max_rank"),
            mode=refinement.get("mode", "S2T&T2S"))  # fmt: skip
    return maps


def pair_gold(a: Language, b: Language) -> dict[int, set[int]]:
    """a's index -> b's indices: words of both that translate the same held-out English word."""
    gold: dict[int, set[int]] = {}
    for english, own in a.by_english.items():
        for index in own:
            gold.setdefault(index, set()).update(b.by_english.get(english, ()))
    return {index: targets for index, targets in gold.items() if targets}


def score_pairs(spaces, maps, pairs, methods, knn):
    """Translation between non-English languages through English: both mapped, a's words
    searched among b's."""
    rows, metrics = [], {}
    for a, b in pairs:
        gold = pair_gold(spaces[a], spaces[b])
        if not gold:
            raise DataError(f"{a}-{b}: no held-out English word has a one-word translation in "
                            "both; raise task.test_words")  # fmt: skip
        row = {"pair": f"{a}-{b}", "test_words": len(gold)}
        for method in methods:
            mapped_a = apply_map(spaces[a].vectors, maps[a][method])
            mapped_b = normalize(apply_map(spaces[b].vectors, maps[b][method]))
            scores = evaluate(mapped_a, mapped_b, gold, knn)
            row[method] = scores["csls/p1"]
            metrics |= {f"pivot/{a}-{b}/{method.replace('+', '_')}/{k}": v
                        for k, v in scores.items()}  # fmt: skip
        rows.append(row)
    for method in methods:
        metrics[f"pivot/avg/{method.replace('+', '_')}/csls/p1"] = (
            sum(row[method] for row in rows) / len(rows))  # fmt: skip
    return rows, metrics


def score_languages(spaces, maps, english, methods, knn):
    """Per language: its held-out words mapped into English, English words retrieved."""
    rows, metrics = [], {}
    for lang, space in spaces.items():
        row = {"language": lang, "train_pairs": len(space.train), "test_words": len(space.test)}
        for method in methods:
            scores = evaluate(apply_map(space.vectors, maps[lang][method]), english, space.test,
                              knn)  # fmt: skip
            row[method] = scores["csls/p1"]
            metrics |= {f"bli/{lang}-{PIVOT}/{method.replace('+', '_')}/{k}": v
                        for k, v in scores.items()}  # fmt: skip
        rows.append(row)
    return rows, metrics


def check(langs, pairs, methods) -> list[tuple[str, str]]:
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ConfigError(f"task.methods: unknown {sorted(unknown)}; choose from {list(METHODS)}")
    if PIVOT in langs or len(set(langs)) < 2:
        raise ConfigError(f"task.langs={list(langs)}: give two or more languages other than "
                          f"{PIVOT} (the shared space)")  # fmt: skip
    pairs = [tuple(p.split("-")) for p in pairs] if pairs else list(combinations(langs, 2))
    stray = {lang for pair in pairs for lang in pair} - set(langs)
    if stray or any(len(pair) != 2 for pair in pairs):
        raise ConfigError(f"task.pairs: each is a-b over task.langs={list(langs)}; "
                          f"got {['-'.join(p) for p in pairs]}")  # fmt: skip
    return pairs


def embed_all(job: AlignJob, dictionaries, extra_words: int, layer: int, held_out):
    """English and every language's vectors from the one multilingual encoder (cached)."""
    encoder = text_encoder(job.encoder, "encoder")

    def vectors(words: list[str]) -> torch.Tensor:
        return preprocess(cached_word_vectors(encoder, words, layer, job.cache_dir,
                                              encoder.bundle.name))  # fmt: skip

    english_words = vocabulary([p for ps in dictionaries.values() for p in ps], 0, PIVOT,
                               extra_words)  # fmt: skip
    english_index = {w: i for i, w in enumerate(english_words)}
    spaces = {}
    for lang, pairs in dictionaries.items():
        words = vocabulary(pairs, 1, lang, extra_words)
        spaces[lang] = language(pairs, words, vectors(words), english_index, held_out)
    return vectors(english_words), spaces


def run(
    job: AlignJob,
    tracker,
    langs: list[str] = ("de", "fr", "ru", "ja"),
    pairs: list[str] | None = None,
    layer: int = -1,
    test_words: int = 200,
    split_seed: int = 0,
    extra_words: int = 5000,
    knn: int = 10,
    refinement: dict | None = None,
    methods: list[str] = METHODS,
    name: str = "bli_multilingual",
) -> dict[str, float]:
    pairs = check(list(langs), pairs, methods)
    dictionaries = {lang: gettext_dictionary(PIVOT, lang) for lang in langs}
    held_out = held_out_english(dictionaries, test_words, split_seed)
    english, spaces = embed_all(job, dictionaries, extra_words, layer, held_out)
    maps = {lang: maps_into_english(space, english, methods, knn, dict(refinement or {}))
            for lang, space in spaces.items()}  # fmt: skip
    language_rows, metrics = score_languages(spaces, maps, english, methods, knn)
    pair_rows, pivot_metrics = score_pairs(spaces, maps, pairs, methods, knn)
    tracker.set_tags({"dictionary": "gettext", "langs": ",".join(langs), "pivot": PIVOT})
    tracker.log_metrics(metrics | pivot_metrics)
    for title, file, rows in (("languages -> English", "bli_languages", language_rows),
                              ("pairs through English", "bli_pivot", pair_rows)):  # fmt: skip
        tracker.log_table(f"{file}.csv", rows)
        tracker.log_text(f"{file}.md", markdown(rows) + "\n")
        print(f"\nBLI {title}, CSLS P@1:\n{markdown(rows)}")
    return metrics | pivot_metrics
