"""Canary rows: every dev and test split of every language holds rows marked `zzcanary`, and no
canary text may reach anything on the training side: a training batch (decoded), a training or
unlabelled set, a translation table, a mining pool, a dictionary, an MLM corpus, a few-shot draw
or a feature-cache file. Each run's protocol label is checked against what its training data
shows. The strategy x augmentation x translator x selection x translate-test product is sampled
so that every value of every axis appears (a full product would take hours on 2 cores)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import open_dict

from tests.conftest import compose_train
from tests.task_fixtures import write_task_files
from xlt.components import build, prepare
from xlt.config.options import group_options
from xlt.evaluation.protocol import protocol_flags, protocol_label

MARK = "zzcanary"
EN_DE = {"the": "der", "cat": "Katze", "dog": "Hund", "sees": "sieht", "likes": "mag",
         "book": "Buch", "tree": "Baum", "house": "Haus", "good": "gut", "bad": "schlecht",
         "a": "ein", "small": "klein", "big": "gross"}  # fmt: skip
NOUNS = ["cat", "dog", "book", "tree", "house"]
TRANSLATORS = ["parallel", "dictionary", "mined"]  # marian needs the hub
SELECTIONS = ["source_dev", "target_dev", "final"]
QUICK = ["model=tiny_random", "dataset.batch_size=8", "dataset.eval_batch_size=16",
         "torch_threads=1", "trainer.enable_progress_bar=false"]  # fmt: skip
OPTIONS = {"freeze_lower": ["strategy.freeze_layers=1"], "few_shot": ["strategy.k=2"],
           "sequential": ["strategy.k=2"]}  # fmt: skip


def sentence(i: int) -> str:
    words = ["the", NOUNS[i % 5], "sees", "a", NOUNS[(i + 2) % 5], "good" if i % 2 else "bad"]
    return " ".join(words)


def rows_of(split: str, n: int, canaries: int) -> list[dict]:
    """Same item ids in both languages (the parallel translator's gold translations); canaries
    only in dev and test, in both languages."""
    out = []
    for i in range(n + canaries):
        english = sentence(i) if i < n else f"{MARK}{split}{i} {sentence(i)}"
        german = " ".join(EN_DE.get(w, w) for w in english.split())
        label = "pos" if "good" in english else "neg"
        out += [{"id": f"{split}-{i}", "text": text, "label": label, "lang": lang}
                for lang, text in (("en", english), ("de", german))]  # fmt: skip
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The files, a user dictionary, and a table mined by xlt-align from TRAIN text."""
    root = tmp_path_factory.mktemp("canaries")
    files = []
    for split, n, canaries in (("train", 32, 0), ("dev", 8, 4), ("test", 8, 4)):
        path = root / f"{split}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows_of(split, n, canaries)))
        files.append(f"dataset.files.{split}={path}")
    # word lists in MUSE's format; with the second, a round trip changes "cat" and "Katze"
    (root / "en-de.txt").write_text("".join(f"{e} {d}\n" for e, d in EN_DE.items())
                                    + "kitten Kätzchen\n")  # fmt: skip
    (root / "de-en.txt").write_text("Katze kitten\n")
    data = ["dataset=local", *files, "dataset.loader.id_column=id"]
    table = mine(root, data)
    assert MARK not in table.read_text()  # the mining pool held TRAIN text only
    return root, data, table


def mine(root: Path, data: list[str]) -> Path:
    from tests.test_align_tasks import compose_align
    from xlt.align.cli import run as align

    cfg = compose_align(["task=bitext", "task.pool.split=train", "model@encoder=tiny_random",
                         *data], root / "mining")  # fmt: skip
    with open_dict(cfg):
        cfg.logger.tracking_uri = f"sqlite:///{root}/mining.db"
    align(cfg)
    return root / "mining" / "run" / "mined_pairs.tsv"


def combinations() -> list[tuple[str, str, str, str, bool]]:
    """Every strategy once; augmentations, translators, selections and translate-test cycled
    through beside them, each translator paired with an augmentation it can serve."""
    strategies = group_options("strategy")
    augmentations = [a for a in group_options("augmentation") if a != "none"] + ["none"]
    out, free = [], 0
    for i, strategy in enumerate(strategies):
        augmentation = augmentations[i % len(augmentations)]
        if augmentation in ("code_switch", "back_translation", "paraphrase"):
            # a word list; gold translations or an en->de table would round-trip to the original
            translator = "dictionary"
        else:
            translator, free = TRANSLATORS[free % len(TRANSLATORS)], free + 1
        out.append((strategy, augmentation, translator, SELECTIONS[i % 3], i % 2 == 1))
    assert {c[2] for c in out} == set(TRANSLATORS)  # every axis value appears
    return out


class TrainingText(L.Callback):
    """Every training batch, decoded back to text."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer, self.texts = tokenizer, []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.decode(batch)

    def decode(self, batch) -> None:
        """Token ids wherever they sit (a strategy may batch labelled and unlabelled rows)."""
        if isinstance(batch, dict):
            for key, value in batch.items():
                if key.endswith("input_ids") and isinstance(value, torch.Tensor):
                    self.texts += self.tokenizer.batch_decode(value, skip_special_tokens=True)
                else:
                    self.decode(value)
        elif isinstance(batch, list | tuple):
            for part in batch:
                self.decode(part)


def run_briefly(parts, checkpoint: Path | None = None) -> TrainingText:
    """Two training steps, a validation and a test, recording the training text."""
    seen = TrainingText(parts.tokenizer)
    trainer = L.Trainer(max_steps=2, limit_train_batches=2, logger=False, callbacks=[seen],
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(parts.module, datamodule=parts.datamodule)
    trainer.test(parts.module, datamodule=parts.datamodule, verbose=False)
    parts.strategy.finish()
    if checkpoint is not None:
        trainer.save_checkpoint(checkpoint, weights_only=True)
    return seen


def strings_in(obj, depth: int = 0, seen: set | None = None):
    """Every string held by an object's attributes (translators, lexicons, tables), depth 6."""
    from xlt.data.dataset_splits import DatasetSplits

    seen = set() if seen is None else seen
    if depth > 6 or id(obj) in seen or isinstance(obj, DatasetSplits | torch.nn.Module):
        return
    seen.add(id(obj))
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from strings_in(key, depth + 1, seen)
            yield from strings_in(value, depth + 1, seen)
    elif isinstance(obj, list | tuple | set):
        for value in obj:
            yield from strings_in(value, depth + 1, seen)
    elif hasattr(obj, "__dict__"):
        yield from strings_in(vars(obj), depth + 1, seen)


def training_side_text(parts) -> list[str]:
    dm = parts.datamodule
    texts = []
    for rows in [*dm.train_sets.values(), *dm.unlabelled_sets.values()]:
        for column in ("text", "text_pair", "tokens", "question", "context"):
            if column in rows.column_names:
                texts += [str(v) for v in rows[column]]
    return texts


def cached_feature_text(folder: Path, tokenizer) -> list[str]:
    texts = []
    for file in folder.glob("*.pt"):
        keys = torch.load(file, weights_only=True)["keys"]
        texts += [tokenizer.decode(torch.frombuffer(bytearray(k), dtype=torch.int64).tolist())
                  for k in keys]  # fmt: skip
    return texts


def check_label(parts, strategy: str, augmentation: str, selection: str, translate: bool):
    """The label computed from the run's reads says what its training data shows."""
    flags = protocol_flags(
        parts.data.access.entries(), parts.source_lang, parts.data.access.inherited
    )
    label = protocol_label(flags)
    langs = {lang for rows in parts.datamodule.train_sets.values() for lang in rows["lang"]}
    augs = {a for rows in parts.datamodule.train_sets.values()
            if "aug" in rows.column_names for a in rows["aug"]}  # fmt: skip
    # back-translation (direction target) rewrites labelled target TRAIN rows
    labelled_target = strategy in ("multitask", "few_shot", "sequential") or (
        augmentation == "back_translation"
    )
    assert flags["target_labels"] == labelled_target, label
    if augs & {"translate_train", "back_translation", "paraphrase"}:
        assert flags["translated_data"], label
    if augmentation == "code_switch":
        assert flags["dictionary"], label
    if "de" in langs and not flags["target_labels"]:
        assert flags["translated_data"] or flags["target_text"], label
    assert flags["target_dev_selection"] == (selection == "target_dev"), label
    assert flags["no_selection"] == (selection == "final"), label
    assert flags["translate_test"] == translate, label


@pytest.mark.parametrize("combo", combinations(), ids=lambda c: "-".join(map(str, c)))
def test_no_canary_reaches_the_training_side(combo, corpus, token_cache, tmp_path):
    strategy, augmentation, translator, selection, translate = combo
    root, data, table = corpus
    features = tmp_path / "features"
    overrides = [*QUICK, *data, f"strategy={strategy}", f"augmentation={augmentation}",
                 f"selection={selection}", *OPTIONS.get(strategy, [])]  # fmt: skip
    if augmentation != "none":
        overrides += translator_overrides(translator, root, table)
    if translate:
        overrides += ["evaluation.translate_test=true",
                      "augmentation/translator@evaluation.translator=parallel"]  # fmt: skip
    if strategy.startswith("linear_probe"):
        overrides.append(f"strategy.cache_dir={features}")
    if strategy == "sequential":
        overrides.append(f"strategy.init_from={starting_weights(root, data, token_cache)}")
    cfg = compose_train(overrides, root=tmp_path)
    with open_dict(cfg):
        cfg.paths.cache_dir = str(token_cache)
    parts = prepare(build(cfg))
    seen = run_briefly(parts)
    sinks = {"training batches": seen.texts, "training sets": training_side_text(parts),
             "augmentation and translator": list(strings_in(parts.augmentation)),
             "strategy": list(strings_in(parts.strategy)),
             "feature cache": cached_feature_text(features, parts.tokenizer)}  # fmt: skip
    for sink, texts in sinks.items():
        assert not [t for t in texts if MARK in t], f"canary text in the {sink}"
    assert seen.texts  # it trained
    evaluated = [t for rows in parts.datamodule.eval_examples.values() for t in rows["text"]]
    assert any(MARK in t for t in evaluated)  # the canaries are there to be found
    check_label(parts, strategy, augmentation, selection, translate)


def translator_overrides(translator: str, root: Path, table: Path) -> list[str]:
    extra = {"mined": [f"augmentation.translator.pairs={table}"],
             "dictionary": ["augmentation.translator.dictionaries="
                            f"{{en-de: {root}/en-de.txt, de-en: {root}/de-en.txt}}"],
             "parallel": []}[translator]  # fmt: skip
    return [f"augmentation/translator={translator}", *extra]


_weights: dict[str, Path] = {}


def starting_weights(root: Path, data: list[str], cache: Path) -> Path:
    """A zero-shot checkpoint `sequential` starts from (made once)."""
    if "init" not in _weights:
        cfg = compose_train([*QUICK, *data], root=root / "init")
        with open_dict(cfg):
            cfg.paths.cache_dir = str(cache)
        path = root / "init.ckpt"
        run_briefly(prepare(build(cfg)), path)
        _weights["init"] = path
    return _weights["init"]


@pytest.mark.parametrize("kind", ["pairs", "tagging", "qa"])
def test_no_canary_reaches_training_in_pair_tagging_and_qa_tasks(kind, tmp_path, token_cache):
    """The benchmarks' other schemas: canaries in every text field of dev and test."""
    overrides = write_task_files(tmp_path / "data", kind, n_train=40, n_eval=8)
    for split in ("dev", "test"):
        plant(tmp_path / "data" / f"{kind}_{split}.jsonl")
    strategy = {"pairs": "zero_shot", "tagging": "freeze_lower", "qa": "task_adapter"}[kind]
    cfg = compose_train([*QUICK, *overrides, f"strategy={strategy}",
                         *OPTIONS.get(strategy, [])], root=tmp_path)  # fmt: skip
    with open_dict(cfg):
        cfg.paths.cache_dir = str(token_cache)
    parts = prepare(build(cfg))
    seen = run_briefly(parts)
    assert seen.texts
    for texts in (seen.texts, training_side_text(parts)):
        assert not [t for t in texts if MARK in t]
    assert MARK in json.dumps(parts.datamodule.eval_examples[parts.datamodule.test_keys[-1]][:])


def plant(path: Path) -> None:
    """A canary copy of every row: the mark appended to each text field (QA answers keep their
    offsets: the mark goes after the context)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    marked = []
    for i, row in enumerate(rows):
        row = dict(row)
        for field in ("text", "text_pair", "question", "context"):
            if field in row:
                row[field] = f"{row[field]} {MARK}{i}"
        if "tokens" in row:
            row["tokens"], row["tags"] = [*row["tokens"], f"{MARK}{i}"], [*row["tags"], "O"]
        marked.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, *marked]))


def test_the_mined_table_is_a_real_table(corpus):
    _, _, table = corpus
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows and {"source", "target", "score"} <= set(rows[0])
