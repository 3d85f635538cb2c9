"""xlt-align's tasks through Hydra's compose API (tiny random encoder, real HSK data), a real
MLflow store, and the hand-off of an aligned encoder to xlt-train."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from omegaconf import DictConfig, open_dict

from xlt.align.cli import ALIGN_CONFIG_DIR
from xlt.align.dictionary import english_senses, hsk_dictionary, split_by_source
from xlt.align.embed import TextEncoder, cached_word_vectors
from xlt.models.sources.random_init import build_random_encoder


def compose_align(overrides: list[str], root: Path) -> DictConfig:
    with initialize_config_dir(config_dir=ALIGN_CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="align", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.root_dir = str(root)
        cfg.paths.output_dir = str(root / "run")
        cfg.paths.cache_dir = str(root / "cache")
    return cfg


def store(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root}/outputs/mlflow.db")


def test_dictionary_senses_and_a_split_that_never_shares_a_source_word():
    assert english_senses("to see; to look (at); CL:個|个[ge4]; short name for X") == [
        "see",
        "look",
    ]
    pairs = hsk_dictionary("en")
    assert ("teacher", "老师") in pairs
    train, test = split_by_source(pairs, 200, seed=0)
    assert len({s for s, _ in test}) == 200
    assert not {s for s, _ in train} & {s for s, _ in test}
    assert sorted(train + test) == sorted(pairs)


def test_word_vectors_average_the_words_own_subwords_and_are_cached(tmp_path):
    torch.manual_seed(0)
    bundle = build_random_encoder()
    with torch.no_grad():  # without positions, layer 0 depends on the word's own tokens only
        bundle.encoder.embeddings.position_embeddings.weight.zero_()
    plain = TextEncoder(bundle, prefix="")
    prefixed = TextEncoder(bundle, prefix="query: ")
    words = ["cat", "图书馆"]
    # the prefix's tokens are left out of the average
    assert torch.allclose(plain.words(words, layer=0), prefixed.words(words, layer=0), atol=1e-5)
    first = cached_word_vectors(plain, words, 1, tmp_path, bundle.name)
    assert len(list((tmp_path / "word_vectors").glob("*.pt"))) == 1
    assert torch.equal(cached_word_vectors(plain, words, 1, tmp_path, bundle.name), first)


def test_compose_reuses_xlt_train_model_and_dataset_configs(tmp_path):
    cfg = compose_align(["task=bli", "model@source_encoder=tiny_random"], tmp_path)
    assert cfg.encoder.name == "me5_small" and cfg.source_encoder.name == "tiny_random"
    assert cfg.dataset.name == "hsk_topic" and cfg.logger.experiment_name == "xlt-align"


def test_bitext_and_layer_tasks_log_to_mlflow(tmp_path):
    from xlt.align.cli import run

    cfg = compose_align(["task=bitext", "model@encoder=tiny_random"], tmp_path)
    metrics = run(cfg)
    # HSK's test split: 653 pairs; random vectors still beat chance (1/653) via shared bytes
    assert 0 <= metrics["bitext/en-zh/margin/p1_fwd"] <= 1
    cfg = compose_align(["task=layers", "model@encoder=tiny_random"], tmp_path)
    run(cfg)
    runs = store(tmp_path).search_runs(
        [store(tmp_path).get_experiment_by_name("xlt-align").experiment_id]
    )
    assert {r.data.tags["task"] for r in runs} == {"align/bitext", "align/layers"}
    layers = next(r for r in runs if r.data.tags["task"] == "align/layers")
    history = store(tmp_path).get_metric_history(layers.info.run_id, "layers/en-zh/pretrained/p1")
    assert [m.step for m in history] == [0, 1, 2]  # embeddings + 2 layers
    files = {a.path for a in store(tmp_path).list_artifacts(layers.info.run_id)}
    assert {"layers_en-zh.png", "layers.csv", "manifest.json"} <= files


def test_dataset_limit_reaches_the_alignment_tasks(tmp_path):
    """dataset.limit: the first N rows per split and language, in xlt-align as in xlt-train."""
    from xlt.align.cli import run
    from xlt.align.tasks.common import parallel_pairs
    from xlt.config.validate import build
    from xlt.data.access import Purpose

    cfg = compose_align(["task=bitext", "model@encoder=tiny_random", "dataset.limit=40"], tmp_path)
    data = build(cfg.dataset.loader, "dataset.loader")
    ids, src, tgt = parallel_pairs(data, "test", "en", "zh", purpose=Purpose.evaluation, limit=40)
    assert 0 < len(ids) <= 40 and len(src) == len(tgt) == len(ids)
    assert {(r["lang"], r["rows"]) for r in data.access.entries()} == {("en", 40), ("zh", 40)}
    p1 = run(cfg)["bitext/en-zh/cosine/p1_fwd"]
    assert abs(p1 * len(ids) - round(p1 * len(ids))) < 1e-6  # a share of the limited pairs


@pytest.mark.slow
def test_sentence_alignment_learns_and_xlt_train_starts_from_it(tmp_path, token_cache):
    from tests.test_cli_end_to_end import run_cli
    from xlt.align.cli import run

    cfg = compose_align(
        ["task=sentence_align", "model@encoder=tiny_random", "task.epochs=3", "task.lr=1e-3"],
        tmp_path,
    )
    metrics = run(cfg)
    before = metrics["align/before/en-zh/cosine/p1_fwd"]
    after = metrics["align/after/en-zh/cosine/p1_fwd"]
    # it learnt to put translations together (a tiny random encoder: from chance-level up)
    assert after > 3 * before and after > before + 0.02, (before, after)
    client = store(tmp_path)
    (align_run,) = client.search_runs([client.get_experiment_by_name("xlt-align").experiment_id])
    assert Path(align_run.data.tags["aligned_encoder"], "model.safetensors").is_file()

    proc = run_cli(
        ["model=tiny_random", f"model.init_encoder={align_run.info.run_id}",
         "trainer.max_epochs=1", "trainer.limit_train_batches=2"],
        tmp_path, token_cache,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    trained = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
    assert trained[0].data.tags["model.init_encoder"] == align_run.data.tags["aligned_encoder"]

    wrong = run_cli(["model=me5_small", f"model.init_encoder={align_run.info.run_id}"],
                    tmp_path, token_cache)  # fmt: skip
    assert wrong.returncode == 2 and "does not fit this encoder" in wrong.stderr


def test_layers_and_init_encoder_start_from_an_xlt_train_checkpoint_with_frozen_weights(
    tmp_path, token_cache
):
    """An xlt-train checkpoint keeps trainable weights only; the frozen embeddings come from the
    model source (same source: checked), for xlt-align task=layers and model.init_encoder."""
    from tests.golden import run_in_process
    from xlt.align.cli import run
    from xlt.align.tasks.common import text_encoder

    quick = ["model=tiny_random", "model.freeze_embeddings=true", "dataset.limit=32",
             "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]  # fmt: skip
    _, out_dir = run_in_process(quick, tmp_path, token_cache, "frozen")
    best = out_dir / "checkpoints" / "best.ckpt"
    saved = torch.load(best, weights_only=True)["state_dict"]
    assert not any("embeddings.word_embeddings" in k for k in saved)  # frozen: not saved

    cfg = compose_align(["task=layers", "model@encoder=tiny_random", f"task.weights={best}"],
                        tmp_path)  # fmt: skip
    loaded = text_encoder(cfg.encoder, "encoder", weights=str(best)).bundle.encoder.state_dict()
    trained = {k.removeprefix("net.encoder."): v for k, v in saved.items()
               if k.startswith("net.encoder.")}  # fmt: skip
    assert trained and all(torch.equal(loaded[k], v) for k, v in trained.items())
    fresh = build_random_encoder().encoder.state_dict()
    key = "embeddings.word_embeddings.weight"
    assert torch.equal(loaded[key], fresh[key])  # the source's own frozen weights
    assert "layers/en-zh/fine-tuned/p1_best_layer" in run(cfg)  # task=layers runs from it

    _, chained = run_in_process([*quick, f"model.init_encoder={best}"], tmp_path, token_cache,
                                "chained")  # fmt: skip
    assert (chained / "data_access.json").is_file()
