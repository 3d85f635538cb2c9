"""Translate-test: target dev/test sets also translated into the source language and scored by
the same model under their own names; the original evaluation is unchanged; the translator
reads text, never labels; the protocol says so."""

from __future__ import annotations

import csv
import json

import pytest

from tests.golden import run_in_process, train_losses
from xlt.errors import XltError

SMOKE = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
         "trainer.enable_progress_bar=false", "trainer.deterministic=true"]  # fmt: skip


def test_translate_test_with_gold_translations_scores_the_source_rows(tmp_path, token_cache):
    """With the parallel translator a Chinese test row becomes its English original: the
    translated set's accuracy is the English one, chrF is 100, and the plain Chinese score is
    the same as in a run without translate-test."""
    # Two epochs: validation runs between them, so extra evaluation sets that drew from the
    # global RNG would change training's dropout masks (they must not).
    epochs = [*SMOKE, "trainer.max_epochs=2", "trainer.log_every_n_steps=1"]
    plain, plain_dir = run_in_process(epochs, tmp_path, token_cache, "plain")
    overrides = [*epochs, "evaluation.translate_test=true",
                 "augmentation/translator@evaluation.translator=parallel"]  # fmt: skip
    results, out_dir = run_in_process(overrides, tmp_path, token_cache, "translated")
    test = results["test"]
    assert test["test/acc/zh.translate_test"] == pytest.approx(test["test/acc/en"])
    assert test["test/acc/zh"] == plain["test"]["test/acc/zh"]  # evaluation data untouched
    assert test["test/acc/avg_target"] == plain["test"]["test/acc/avg_target"]
    assert train_losses(out_dir) == train_losses(plain_dir)  # the same training, step by step
    record = json.loads((out_dir / "data_access.json").read_text())
    assert record["protocol"] == "zero-shot+translate-test"
    reads = [r for r in record["reads"] if r["purpose"] == "test_translation"]
    assert reads and not any(r["labelled"] for r in reads)
    metrics = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    logged = {k: v for m in metrics for k, v in m.get("metrics", m).items()
              if str(k).startswith("translate_test/")}  # fmt: skip
    assert logged["translate_test/chrf/test/zh"] == pytest.approx(100.0)
    assert logged["translate_test/untranslated/test/zh"] == 0
    rows = list(csv.DictReader((out_dir / "test_predictions.csv").open()))
    english = {r["id"]: r for r in rows if r["lang"] == "en"}
    translated = [r for r in rows if r["lang"] == "zh.translate_test"]
    assert translated and len(translated) == len(english)  # row by row: the English original's
    assert all(r["pred"] == english[r["id"]]["pred"] for r in translated)


def test_dictionary_translate_test_counts_what_it_cannot_translate(tmp_path, token_cache):
    overrides = [*SMOKE, "evaluation.translate_test=true"]  # the default: HSK's dictionary
    results, out_dir = run_in_process(overrides, tmp_path, token_cache, "dictionary")
    assert "test/acc/zh.translate_test" in results["test"]
    table = (out_dir / "metrics_per_language.csv").read_text()
    assert "zh.translate_test,translate-test," in table


def test_translate_test_refuses_tasks_without_sentences(tmp_path, token_cache):
    from tests.task_fixtures import write_task_files

    data = write_task_files(tmp_path / "data", "tagging", n_train=16, n_eval=8)
    with pytest.raises(XltError, match="translate_test translates sentences"):
        run_in_process([*data, *SMOKE[:1], "evaluation.translate_test=true"], tmp_path,
                       token_cache, "tagging")  # fmt: skip


def test_translate_test_refuses_a_translator_that_cannot_translate_the_direction(tmp_path):
    """A word list without target->source words (local files have none) and mined TRAIN pairs
    cannot translate dev/test text: said before the model loads."""
    from tests.conftest import compose_train
    from xlt.components import build, prepare

    rows = "".join(f'{{"text": "row {i}", "label": "{"ab"[i % 2]}", "lang": "LANG"}}\n'
                   for i in range(8))  # fmt: skip
    (tmp_path / "train.jsonl").write_text(rows.replace("LANG", "en"))
    (tmp_path / "test.jsonl").write_text(rows.replace("LANG", "de"))
    local = ["dataset=local", f"dataset.files.train={tmp_path}/train.jsonl",
             f"dataset.files.test={tmp_path}/test.jsonl", "model=tiny_random",
             "evaluation.translate_test=true"]  # fmt: skip
    with pytest.raises(XltError, match=r"cannot translate de->en \(the data's word list has no"):
        prepare(build(compose_train(local, root=tmp_path)))
    mined = [
        "augmentation/translator@evaluation.translator=mined",
        "evaluation.translator.pairs=/nonexistent/mined_pairs.tsv",
    ]
    with pytest.raises(XltError, match=r"translator mined cannot translate zh->en"):
        prepare(
            build(
                compose_train([*SMOKE[:2], "evaluation.translate_test=true", *mined], root=tmp_path)
            )
        )
