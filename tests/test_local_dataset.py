"""User files through dataset=local: formats, per-language files, and clear errors."""

import json
from pathlib import Path

import pytest

from xlt.data.sources.local_files import load_local
from xlt.errors import ConfigError, DataError


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


ROWS = [
    {"text": "good film", "label": "pos", "lang": "en"},
    {"text": "bad film", "label": "neg", "lang": "en"},
    {"text": "guter Film", "label": "pos", "lang": "de"},
    {"text": "schlechter Film", "label": "neg", "lang": "de"},
]


def test_one_file_per_split_with_a_language_column(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", ROWS)
    test = tmp_path / "test.csv"
    test.write_text("text,label,lang\nnice,pos,de\nawful,neg,en\n", encoding="utf-8")
    data = load_local({"train": str(train), "test": str(test)})
    assert data.label_names == ["neg", "pos"]
    assert data.languages_of("train") == ["de", "en"]
    assert data.splits["train"]["label"] == [1, 0, 1, 0]
    assert data.subset("test", "de", purpose="evaluation")["text"] == ["nice"]


def test_per_language_files_and_custom_columns(tmp_path):
    en = tmp_path / "en.tsv"
    en.write_text("txt\tcls\nhello\ta\nbye\tb\n", encoding="utf-8")
    zh = tmp_path / "zh.tsv"
    zh.write_text("txt\tcls\n你好\ta\n再见\tb\n", encoding="utf-8")
    data = load_local(
        {"train": {"en": str(en)}, "test": {"zh": str(zh), "en": str(en)}},
        text_column="txt",
        label_column="cls",
        lang_column=None,
    )
    assert data.languages == ["en", "zh"]
    assert data.subset("test", "zh", purpose="evaluation")["text"] == ["你好", "再见"]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="not found: .*nope.jsonl"):
        load_local({"train": str(tmp_path / "nope.jsonl")})


def test_missing_column_lists_what_the_file_has(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"sentence": "x", "label": "a", "lang": "en"}])
    with pytest.raises(DataError, match=r"missing column\(s\) \['text'\].*'sentence'"):
        load_local({"train": str(path)})


def test_unknown_label_in_eval_data_names_file_and_row(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", ROWS)
    test = write_jsonl(tmp_path / "test.jsonl", [ROWS[0], {**ROWS[1], "label": "meh"}])
    with pytest.raises(DataError, match=r"test.jsonl row 2: label 'meh'"):
        load_local({"train": str(train), "test": str(test)})


def test_empty_and_non_utf8_files_are_reported(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label,lang\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty.csv: the file has no rows"):
        load_local({"train": str(empty)})
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label,lang\ncaf\xe9,a,fr\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin.csv line 2: not valid UTF-8"):
        load_local({"train": str(latin)})


def test_unknown_split_name_is_a_config_error(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", ROWS)
    with pytest.raises(ConfigError, match="unknown split"):
        load_local({"train": str(train), "validation": str(train)})


def test_dataset_local_config_reads_files_given_on_the_command_line(tmp_path):
    from hydra.utils import instantiate

    from tests.conftest import compose_train

    train = write_jsonl(tmp_path / "train.jsonl", ROWS)
    cfg = compose_train(["dataset=local", f"dataset.files.train={train}",
                         f"dataset.files.test={{de: {train}}}"])  # fmt: skip
    data = instantiate(cfg.dataset.loader)
    assert data.languages_of("train") == ["de", "en"] and data.languages_of("test") == ["de"]
    from xlt.config.validate import check_required

    with pytest.raises(ConfigError, match=r"not set: dataset.files.train \(e.g. `dataset.files"):
        check_required(compose_train(["dataset=local"], root=tmp_path))


def test_without_a_dev_file_the_run_says_nothing_selected(tmp_path, token_cache, caplog):
    """No source dev set: one warning line, the final weights tested, protocol no-selection."""
    import json
    import logging

    from tests.golden import run_in_process

    rows = "".join(f'{{"text": "row {i} {"ab"[i % 2]}", "label": "{"ab"[i % 2]}", '
                   f'"lang": "{lang}"}}\n' for i in range(16) for lang in ("en", "de"))  # fmt: skip
    for split in ("train", "test"):
        (tmp_path / f"{split}.jsonl").write_text(rows, encoding="utf-8")
    files = [f"dataset.files.{s}={tmp_path / f'{s}.jsonl'}" for s in ("train", "test")]
    with caplog.at_level(logging.WARNING):
        overrides = ["dataset=local", *files, "model=tiny_random", "trainer.max_epochs=1",
                     "trainer.enable_progress_bar=false"]  # fmt: skip
        results, out_dir = run_in_process(overrides, tmp_path, token_cache, "no_dev")
    warnings = [r.getMessage() for r in caplog.records if "no en dev set" in r.getMessage()]
    assert len(warnings) == 1 and "final weights are tested" in warnings[0]
    record = json.loads((out_dir / "data_access.json").read_text())
    assert record["flags"]["no_selection"] and record["protocol"] == "zero-shot+no-selection"
    assert results["dev"] == {} and "test/acc/de" in results["test"]
    assert not any("dev/acc/en" in r.getMessage() for r in caplog.records)  # no Lightning noise
