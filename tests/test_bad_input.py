"""Bad input gets a clear answer: every case names the file, row or key (or is a logged warning
where going on is right). The table of cases and messages is written to
outputs/test-artifacts/bad_inputs.md."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from xlt.config.instantiate import instantiate_spec
from xlt.config.validate import check_required, resolve_languages
from xlt.errors import XltError
from xlt.training.precision import check_accelerator

ARTIFACT = Path(__file__).resolve().parents[1] / "outputs" / "test-artifacts" / "bad_inputs.md"
TABLE: list[tuple[str, str]] = []


def good_rows(lang: str = "en", n: int = 4) -> str:
    return "".join(f'{{"text": "row {i}", "label": "{"ab"[i % 2]}", "lang": "{lang}"}}\n'
                   for i in range(n))  # fmt: skip


def load(compose_cfg, tmp_path: Path, train: str | bytes, test: str | bytes | None = None, *extra):
    paths = {}
    for split, content in (("train", train), ("test", test)):
        if content is None:
            continue
        path = tmp_path / f"{split}.jsonl"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths[split] = path
    overrides = [f"dataset.files.{s}={p}" for s, p in paths.items()]
    cfg = compose_cfg("dataset=local", *overrides, *extra)
    data = instantiate_spec(cfg.dataset.loader, "dataset.loader")
    return cfg, data


def record(case: str, message: str) -> None:
    import re

    TABLE.append((case, re.sub(r"/tmp/\S*/", ".../", " ".join(message.split()))))


DATA_CASES = {
    "missing file": (None, None, ["dataset.files.train=/nonexistent/train.jsonl"], "not found"),
    "missing label column": ('{"text": "a", "lang": "en"}\n', None, [], "missing column"),
    "empty file": ("", None, [], "no rows"),
    "unknown label in eval data": (good_rows(), good_rows().replace('"b"', '"zzz"'), [],
                                   "test.jsonl row 2: label 'zzz'"),
    "non-UTF-8 bytes": (b'{"text": "caf\xe9", "label": "a", "lang": "en"}\n', None, [],
                        "not valid UTF-8"),
    "a language the data lacks": (good_rows(), good_rows("zh"), ["dataset.target_langs=[de]"],
                                  "de"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_dataset_files_name_the_file_row_or_key(compose_cfg, tmp_path, case):
    train, test, extra, expected = DATA_CASES[case]
    with pytest.raises(XltError) as err:
        if train is None:
            cfg = compose_cfg("dataset=local", *extra)
            instantiate_spec(cfg.dataset.loader, "dataset.loader")
        else:
            cfg, data = load(compose_cfg, tmp_path, train, test, *extra)
            resolve_languages(cfg.dataset, data)
    assert expected in str(err.value)
    record(case, str(err.value))


def test_empty_texts_are_dropped_with_a_warning_naming_the_rows(compose_cfg, tmp_path, caplog):
    rows = good_rows() + '{"text": "  ", "label": "a", "lang": "en"}\n'
    with caplog.at_level(logging.WARNING):
        _, data = load(compose_cfg, tmp_path, rows)
    assert len(data.splits["train"]) == 4
    (warning,) = [r.getMessage() for r in caplog.records if "empty" in r.getMessage()]
    assert "train.jsonl" in warning and "row 5" in warning
    record("empty strings", warning)


def test_texts_over_the_length_limit_are_truncated_counted_and_logged(tmp_path, caplog):
    from datasets import Dataset

    from xlt.data.tokenize import count_truncated, tokenize
    from xlt.models.sources.random_init import byte_level_tokenizer

    ds = Dataset.from_dict({"text": ["short", "x" * 500, "y" * 300], "label": [0, 1, 0]})
    tokens = tokenize(ds, byte_level_tokenizer(), max_length=32, text_prefix="",
                      cache_dir=tmp_path, key=["t"])  # fmt: skip
    assert max(tokens["length"]) == 32
    with caplog.at_level(logging.WARNING):
        assert count_truncated(tokens, 32, "train/en") == 2
    message = caplog.records[-1].getMessage()
    assert "2 of 3" in message and "model.max_length=32" in message
    record("extremely long texts", message)


CONFIG_CASES = {
    "unknown group option": (["strategy=zero_shoot"], "zero_shoot"),
    "unknown key": (["dataset.limt=3"], "limt"),
    "wrong type": (["trainer.max_epochs=three"], "max_epochs"),
    "unknown key added with +": (["+dataset.limt=3"], "dataset.limt: unknown key"),
    "learning rate out of range": (["strategy.optimizer.lr=-1"], "must be > 0"),
    "batch size 0": (["dataset.batch_size=0"], "dataset.batch_size=0: out of range"),
    "no epochs": (["trainer.max_epochs=0"], "trainer.max_epochs=0"),
    "negative limit": (["dataset.limit=-5"], "dataset.limit=-5"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_configs_fail_at_composition_naming_the_key(compose_cfg, case):
    overrides, expected = CONFIG_CASES[case]
    with pytest.raises((HydraException, OmegaConfBaseException, XltError)) as err:
        check_required(compose_cfg(*overrides))
    assert expected in str(err.value)
    cause = str(err.value.__cause__ or "").splitlines()[:1]  # e.g. why the value did not fit
    record(case, " ".join([*str(err.value).splitlines()[:2], *cause]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_a_gpu_trainer_without_a_gpu_says_what_to_use(compose_cfg):
    with pytest.raises(XltError) as err:
        check_accelerator(str(compose_cfg("trainer=gpu").trainer.accelerator))
    assert "no CUDA GPU is visible here" in str(err.value) and "trainer=default" in str(err.value)
    record("trainer=gpu without a GPU", str(err.value))


def test_few_shot_asking_for_more_than_the_data_has(compose_cfg):
    cfg = compose_cfg("strategy=few_shot", "strategy.k=100000")
    data = instantiate_spec(cfg.dataset.loader, "dataset.loader")
    strategy = instantiate_spec(cfg.strategy, "strategy")
    with pytest.raises(XltError) as err:
        strategy.check(data, "en", ["zh"])
    assert "k" in str(err.value)
    record("few-shot k larger than the data", str(err.value))


def test_write_the_table():
    """Runs last in this module: the cases above and the message each one got."""
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    lines = ["| bad input | message |", "|---|---|"]
    lines += [f"| {case} | {msg.replace('|', '/')} |" for case, msg in TABLE]
    ARTIFACT.write_text("\n".join(lines) + "\n")
    assert len(TABLE) >= 12
