"""The ledger has no gaps: an augmentation or translate-test that would change nothing for a
language refuses in one line before training, one that changes part of the data logs its
coverage, and a user callback cannot choose on a target language unseen."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.conftest import compose_train
from xlt.augment.base import Augmentation
from xlt.components import build, prepare
from xlt.errors import ConfigError

# A user's EN/JA corpus: no word list comes with it (the case).
EN = ["the film was good", "a bad film", "great acting", "boring story", "I loved it",
      "I hated it", "a fine day", "an awful day"]  # fmt: skip
JA = ["映画は良かった", "悪い映画", "素晴らしい演技", "退屈な話", "大好きだった", "大嫌いだった",
      "良い日", "ひどい日"]  # fmt: skip


def corpus_files(folder: Path, texts: dict[str, list[str]]) -> list[str]:
    """A user's labelled corpus in `dataset=local` files (the same sentences in every split,
    alternating labels), as the overrides that read it."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for split in ("train", "dev", "test"):
        rows = [{"text": t, "label": "pos" if i % 2 == 0 else "neg", "lang": lang}
                for lang, sentences in texts.items()
                for i, t in enumerate(sentences)]  # fmt: skip
        path = folder / f"{split}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        files[split] = path
    return [
        "dataset=local",
        "model=tiny_random",
        *(f"dataset.files.{s}={p}" for s, p in files.items()),
    ]


def en_ja_files(folder: Path) -> list[str]:
    return corpus_files(folder, {"en": EN, "ja": JA})


@pytest.mark.parametrize("augmentation", [
    ["augmentation=code_switch"],
    ["augmentation=translate_train", "augmentation/translator=dictionary"],
    ["augmentation=paraphrase", "augmentation/translator=dictionary"],
    ["augmentation=back_translation", "augmentation/translator=dictionary"],
])  # fmt: skip
def test_an_augmentation_that_cannot_change_a_language_refuses_before_training(
    augmentation, tmp_path
):
    cfg = compose_train([*en_ja_files(tmp_path / "data"), *augmentation], root=tmp_path)
    with pytest.raises(ConfigError, match=r"cannot translate (en->ja|ja->en).*zero-shot under"):
        prepare(build(cfg))


def test_coverage_refuses_nothing_and_warns_below_half(caplog):
    aug = Augmentation()
    with pytest.raises(ConfigError, match="changed no row for ja"):
        aug.check_coverage({"zh": 0.9, "ja": 0.0})
    with caplog.at_level(logging.WARNING):
        aug.check_coverage({"zh": 0.3})
    assert "changed only 30% of the rows for zh" in caplog.text
    assert aug.coverage == {"zh": 0.3}


def test_a_dictionary_augmentation_logs_the_share_it_changed(tmp_path, token_cache):
    """HSK has a word list: translate-train by dictionary changes most rows, and says how many."""
    from omegaconf import open_dict

    cfg = compose_train(["model=tiny_random", "dataset.limit=40", "augmentation=translate_train",
                         "augmentation/translator=dictionary"], root=tmp_path)  # fmt: skip
    with open_dict(cfg):
        cfg.paths.cache_dir = str(token_cache)
    parts = prepare(build(cfg))
    assert 0 < parts.augmentation.coverage["zh"] <= 1


@pytest.mark.parametrize(("monitor", "selection", "refused"), [
    ("dev/acc/ja", "source_dev", True),
    ("dev/acc/avg_target", "final", True),
    ("dev/acc/en", "source_dev", False),
    ("dev/acc/ja", "target_dev", False),
])  # fmt: skip
def test_a_user_callback_watching_a_target_dev_score_needs_target_selection(
    monitor, selection, refused, tmp_path
):
    cfg = compose_train([*en_ja_files(tmp_path / "data"), f"selection={selection}",
                         "+callbacks.stop._target_=lightning.pytorch.callbacks.EarlyStopping",
                         f"+callbacks.stop.monitor={monitor}"], root=tmp_path)  # fmt: skip
    if refused:
        with pytest.raises(ConfigError, match=f"callbacks.stop.monitor={monitor} watches"):
            prepare(build(cfg))
    else:
        prepare(build(cfg))


def test_translate_test_that_translates_nothing_refuses():
    from datasets import Dataset

    from xlt.augment.translators import Translator
    from xlt.evaluation.translated_inputs import translate_rows

    class Nothing(Translator):
        name = "nothing"

        def translate(self, texts, ids, src, tgt, data):
            return [None] * len(texts)

    rows = Dataset.from_dict({"id": ["1", "2"], "text": ["映画", "日"], "label": [0, 1]})
    with pytest.raises(ConfigError, match="translated none of the 2 ja test rows"):
        translate_rows(rows, Nothing(), "test", "ja", "en", data=None)
