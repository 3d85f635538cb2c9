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
    from xlt.config.instantiate import instantiate_spec
    from xlt.data.access import Purpose

    cfg = compose_align(["task=bitext", "model@encoder=tiny_random", "dataset.limit=40"], tmp_path)
    data = instantiate_spec(cfg.dataset.loader, "dataset.loader")
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


MUSE_TRAIN = """cat\t猫
cat\t猫咪
dog 狗
bird\t鸟
fish\t鱼
horse\t马
water\t水
fire\t火
tree\t树
book\t书
"""
MUSE_TEST = "moon\t月亮\nsun 太阳\nsun\t日\nrain\t雨\n"


def test_bli_on_dictionary_files_in_muses_format(tmp_path):
    """A user's dictionary (MUSE's format: tab or space, several translations on several
    lines) instead of HSK's glosses: the fixed train/test split as given."""
    from xlt.align.cli import run
    from xlt.align.dictionary import read_dictionary
    from xlt.errors import DataError

    train, test = tmp_path / "en-zh.0-5000.txt", tmp_path / "en-zh.5000-6500.txt"
    train.write_text(MUSE_TRAIN, encoding="utf-8")
    test.write_text(MUSE_TEST, encoding="utf-8")
    assert ("cat", "猫咪") in read_dictionary(train) and len(read_dictionary(test)) == 4
    cfg = compose_align(["task=bli", "model@source_encoder=tiny_random",
                         "model@encoder=tiny_random", f"task.dictionary.train={train}",
                         f"task.dictionary.test={test}", "task.methods=[identity,procrustes]",
                         "task.vocabulary.source=null", "task.vocabulary.target=null"],
                        tmp_path)  # fmt: skip
    metrics = run(cfg)
    assert 0 <= metrics["bli/procrustes/csls/p1"] <= 1
    (bli_run,) = store(tmp_path).search_runs(
        [store(tmp_path).get_experiment_by_name("xlt-align").experiment_id]
    )
    assert bli_run.data.metrics["dict/test_source_words"] == 3  # moon, sun, rain
    assert (
        bli_run.data.metrics["dict/train_pairs"] == 10
        and bli_run.data.tags["dictionary"] == "files"
    )
    # The induced table over the exported vocabulary, in the format the translator reads.
    induced = Path(bli_run.data.tags["induced_dictionary"])
    assert induced.name == "induced-en-zh.txt" and len(read_dictionary(induced)) >= 10
    from xlt.augment.translators import DictionaryTranslator

    entries = DictionaryTranslator(dictionaries={"en-zh": str(induced)}).user_entries(["en"])
    assert entries and all(src == "en" and tgt == "zh" for _, src, _, tgt in entries)
    bad = tmp_path / "bad.txt"
    bad.write_text("cat 猫\nthree words here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.txt line 2: expected 'source target'"):
        read_dictionary(bad)
    bad.write_bytes("dog \u72d7\n".encode("gb18030"))  # 狗 in GB18030 is not UTF-8
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_dictionary(bad)


def write_vec(path: Path, words: list[str], vectors: torch.Tensor) -> Path:
    lines = [f"{len(words)} {vectors.shape[1]}"]
    lines += [
        " ".join([w, *(f"{v:.6f}" for v in row.tolist())])
        for w, row in zip(words, vectors, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bli_on_fasttext_vec_files_searches_the_whole_target_vocabulary(tmp_path):
    """Two .vec files where the target space is an exact rotation of the source (target words
    in another order): Procrustes from the training pairs finds every held-out translation
    among all 60 target words; pairs with a word outside the files are dropped and counted."""
    from xlt.align.cli import run
    from xlt.align.vectors import read_vec
    from xlt.errors import DataError

    gen = torch.Generator().manual_seed(0)
    source = torch.randn(60, 8, generator=gen)
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=gen))
    order = torch.randperm(60, generator=gen)
    src = write_vec(tmp_path / "wiki.en.vec", [f"w{i}" for i in range(60)], source)
    tgt = write_vec(tmp_path / "wiki.zh.vec", [f"z{i}" for i in order.tolist()],
                    (source @ rotation)[order])  # fmt: skip
    pairs = [f"w{i} z{i}" for i in range(40)] + ["w5 missing"]
    (tmp_path / "train.txt").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    held_out = [f"w{i} z{i}" for i in range(40, 50)] + ["nowhere z45"]
    (tmp_path / "test.txt").write_text("\n".join(held_out) + "\n", encoding="utf-8")
    cfg = compose_align(["task=bli", f"task.vectors.source={src}", f"task.vectors.target={tgt}",
                         f"task.dictionary.train={tmp_path / 'train.txt'}",
                         f"task.dictionary.test={tmp_path / 'test.txt'}",
                         "task.methods=[identity,procrustes]", "task.export_vocab=20"],
                        tmp_path)  # fmt: skip
    metrics = run(cfg)
    assert metrics["bli/procrustes/csls/p1"] == 1.0 and metrics["bli/procrustes/cosine/p1"] == 1.0
    assert metrics["bli/identity/cosine/p1"] < 0.5
    (bli_run,) = store(tmp_path).search_runs(
        [store(tmp_path).get_experiment_by_name("xlt-align").experiment_id]
    )
    logged = bli_run.data.metrics
    assert logged["vocab/target"] == 60 and logged["dict/test_source_words"] == 10
    assert logged["dict/dropped_train_pairs"] == 1 and logged["dict/dropped_test_pairs"] == 1
    import numpy as np

    artifacts = Path(bli_run.info.artifact_uri.removeprefix("file://"))
    mapping = torch.from_numpy(np.load(artifacts / "mapping_procrustes.npy"))
    assert torch.allclose(mapping, rotation.T, atol=1e-4)  # the rotation the data was made with
    exported, aligned = read_vec(artifacts / "vectors-en.vec", max_vocab=100)
    assert exported == [f"w{i}" for i in range(20)] and aligned.shape == (20, 8)
    words, vectors = read_vec(tgt, max_vocab=7)  # streamed: the first 7 words only
    assert len(words) == 7 and vectors.shape == (7, 8)
    bad = tmp_path / "bad.vec"
    bad.write_text("2 3\na 1 2 3\nb 1 2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.vec line 3: expected a word and 3 numbers, got 2"):
        read_vec(bad, 10)
    bad.write_text("a 1 2 3\n", encoding="utf-8")
    with pytest.raises(DataError, match="header 'count dimension'"):
        read_vec(bad, 10)


def test_bli_vocabularies_from_offline_frequency_lists(tmp_path):
    """The default vocabularies: wordfreq's English list and jieba's Chinese counts, most
    frequent first; HSK's dictionary pairs outside them are dropped and counted."""
    from xlt.align.cli import run
    from xlt.align.vectors import frequency_words

    english, chinese = frequency_words("en", 500), frequency_words("zh", 500)
    assert english[:3] == ["the", "to", "and"] and len(english) == 500
    assert "是" in chinese[:5] and all(any(c.isalpha() for c in w) for w in english + chinese)
    cfg = compose_align(["task=bli", "model@source_encoder=tiny_random",
                         "model@encoder=tiny_random", "task.vocabulary.size=3000",
                         "task.methods=[identity,procrustes]"], tmp_path)  # fmt: skip
    run(cfg)
    (bli_run,) = store(tmp_path).search_runs(
        [store(tmp_path).get_experiment_by_name("xlt-align").experiment_id]
    )
    logged = bli_run.data.metrics
    assert logged["vocab/source"] == logged["vocab/target"] == 3000
    assert 0 < logged["dict/dropped_test_pairs"] < logged["dict/pairs"]


@pytest.mark.slow
def test_the_readmes_distillation_with_an_english_teacher_runs(tmp_path):
    """`xlt-align task=sentence_align task.loss=distill +model@task.teacher=minilm_en` (the
    README's command; once a NameError after 7 s), on 40 pairs for one epoch."""
    from xlt.align.cli import run

    cfg = compose_align(["task=sentence_align", "task.loss=distill",
                         "+model@task.teacher=minilm_en", "dataset.limit=40", "task.epochs=1"],
                        tmp_path)  # fmt: skip
    metrics = run(cfg)
    assert 0 <= metrics["align/after/en-zh/cosine/p1_fwd"] <= 1
    (align_run,) = store(tmp_path).search_runs(
        [store(tmp_path).get_experiment_by_name("xlt-align").experiment_id]
    )
    assert align_run.info.status == "FINISHED"
