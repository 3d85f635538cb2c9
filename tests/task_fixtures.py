"""Small learnable datasets in the benchmarks' schemas (XNLI-style pairs, PAN-X tagging,
SQuAD-style QA), written as the JSON-lines files the `local*` loaders read. English is the
source; "xx" is a second language with other words, same structure."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = {
    "en": "the a cat dog sees likes book tree house river green small old big".split(),  # noqa: SIM905
    "xx": "ka lo miru tasi vena pola kiro duna sefa lumo pira nodi saka beli".split(),  # noqa: SIM905
}
NAMES = {"en": ["Alice", "Bob", "Carol", "Dave"], "xx": ["Amira", "Bako", "Ceni", "Doru"]}
CITIES = {"en": ["Paris", "Lima", "Oslo", "Rome"], "xx": ["Tarsu", "Velo", "Kimbi", "Sorna"]}
NEGATION = {"en": "NEVER!", "xx": "NUNCA!"}
IN = {"en": "in", "xx": "en"}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _filler(rng: random.Random, lang: str, n: int) -> list[str]:
    return [rng.choice(WORDS[lang]) for _ in range(n)]


def pair_rows(lang: str, n: int, seed: int) -> list[dict]:
    """contradiction iff the second sentence holds the negation word."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        premise = " ".join(_filler(rng, lang, rng.randint(4, 8)))
        words = _filler(rng, lang, rng.randint(3, 6))
        negated = rng.random() < 0.5
        if negated:
            words.insert(rng.randint(0, len(words)), NEGATION[lang])
        label = "contradiction" if negated else "entailment"
        rows.append({"text": premise, "text_pair": " ".join(words), "label": label, "lang": lang})
    return rows


def tagging_rows(lang: str, n: int, seed: int) -> list[dict]:
    """Names are B-PER (I-PER for a second name), cities B-LOC; everything else O."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.randint(5, 10)):
            r = rng.random()
            if r < 0.15:
                tokens += [rng.choice(NAMES[lang]), rng.choice(NAMES[lang])]
                tags += ["B-PER", "I-PER"]
            elif r < 0.3:
                tokens.append(rng.choice(CITIES[lang]))
                tags.append("B-LOC")
            else:
                tokens.append(rng.choice(WORDS[lang]))
                tags.append("O")
        rows.append({"tokens": tokens, "tags": tags, "lang": lang})
    return rows


def qa_rows(lang: str, n: int, seed: int) -> list[dict]:
    """'Where does NAME live?': the city after 'NAME ... in'."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        name, city = rng.choice(NAMES[lang]), rng.choice(CITIES[lang])
        before = " ".join(_filler(rng, lang, rng.randint(1, 6)))
        after = " ".join(_filler(rng, lang, rng.randint(1, 6)))
        context = f"{before} {name} {IN[lang]} "
        start = len(context)
        context += f"{city} {after} ."
        rows.append(
            {
                "question": f"where {name} ?",
                "context": context,
                "answers": {"text": [city], "answer_start": [start]},
                "lang": lang,
            }
        )
    return rows


def write_task_files(root: Path, kind: str, n_train: int = 400, n_eval: int = 60) -> list[str]:
    """Files for dataset=local (pairs), local_tagging or local_qa; returns the CLI overrides."""
    make = {"pairs": pair_rows, "tagging": tagging_rows, "qa": qa_rows}[kind]
    root.mkdir(parents=True, exist_ok=True)
    train = _write(root / f"{kind}_train.jsonl", make("en", n_train, 0))
    dev = _write(root / f"{kind}_dev.jsonl", make("en", n_eval, 1) + make("xx", n_eval, 2))
    test = _write(root / f"{kind}_test.jsonl", make("en", n_eval, 3) + make("xx", n_eval, 4))
    dataset = {"pairs": "local", "tagging": "local_tagging", "qa": "local_qa"}[kind]
    overrides = [f"dataset={dataset}", f"dataset.files.train={train}",
                 f"dataset.files.dev={dev}", f"dataset.files.test={test}"]  # fmt: skip
    if kind == "pairs":
        overrides += [
            "dataset.task=pair_classification",
            "dataset.loader.text_pair_column=text_pair",
        ]
    return overrides
