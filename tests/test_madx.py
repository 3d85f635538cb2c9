"""MAD-X language adapters (strategy=madx) on the tiny model and HSK: which adapters read each
language, what trains and what never moves, reuse by cache and by run id, and bad input."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import pytest
import torch

from tests.conftest import compose_train
from tests.golden import run_in_process
from xlt.components import build, prepare
from xlt.errors import ConfigError, DataError, XltError
from xlt.models.adapter_stack import TASK_ADAPTER
from xlt.strategies.base import Stage, StepContext

TINY = ["strategy=madx", "model=tiny_random", "dataset.limit=64", "strategy.mlm.steps=20",
        "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
        "dataset.eval_batch_size=512"]  # fmt: skip


def built(tmp_path: Path, *extra: str):
    cfg = compose_train([*TINY, f"strategy.cache_dir={tmp_path}/adapters", *extra], root=tmp_path)
    return prepare(build(cfg))


def lora_weights(net, part: str) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in net.encoder.named_parameters() if part in n}


def base_weights(net) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in net.encoder.named_parameters() if "lora_" not in n}


def train_steps(parts, n: int) -> None:
    """n task-training steps as the stage runner takes them, with a Chinese forward between
    steps (as validation does) to check that training goes back to the source's adapter."""
    net, strategy = parts.net, parts.strategy
    optimizer = strategy.optimizer(strategy.optimizer_groups(net, Stage()))
    loader = strategy.train_dataloader(parts.datamodule.training_data(), Stage())
    for step, batch in enumerate(islice(iter(loader), n)):
        ctx = StepContext(step=step, total_steps=n, epoch=0, global_step=step, stage=Stage())
        loss, _ = strategy.training_loss(net, parts.task, batch, ctx)
        assert net.encoder.base_model.active_adapters == ["lang_en", TASK_ADAPTER]
        loss.backward()
        optimizer.step(), optimizer.zero_grad()
        with torch.no_grad():
            net(batch["input_ids"][:2], batch["attention_mask"][:2], "zh")


def test_language_adapters_route_languages_and_only_the_task_adapter_trains(tmp_path):
    parts = built(tmp_path)
    net = parts.net
    assert set(net.encoder.peft_config) == {"lang_en", "lang_zh", TASK_ADAPTER}
    for lang in ("en", "zh"):  # MLM moved every LoRA B matrix of the language adapter
        b_matrices = [p for n, p in lora_weights(net, f".lang_{lang}.").items() if "lora_B" in n]
        assert b_matrices and all(p.abs().sum() > 0 for p in b_matrices)
    # MAD-X 2.0's default: no language adapter in the last layer, the task adapter everywhere
    assert not any(".layer.1." in n for n in lora_weights(net, ".lang_zh."))
    assert any(".layer.1." in n for n in lora_weights(net, f".{TASK_ADAPTER}."))
    languages, base = lora_weights(net, ".lang_"), base_weights(net)
    task_before = lora_weights(net, f".{TASK_ADAPTER}.")
    train_steps(parts, 4)
    after = lora_weights(net, ".lang_")
    assert all(torch.equal(languages[n], after[n]) for n in languages)  # byte-identical
    assert all(torch.equal(base[n], p) for n, p in base_weights(net).items())
    task_after = lora_weights(net, f".{TASK_ADAPTER}.")
    assert any(not torch.equal(task_before[n], task_after[n]) for n in task_before)
    seen = active_adapters_per_evaluation_key(parts)
    assert seen == {"en": [("lang_en", TASK_ADAPTER)], "zh": [("lang_zh", TASK_ADAPTER)]}
    with pytest.raises(ConfigError, match="no language adapter for 'de'"):
        net(torch.ones(1, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.long), "de")


def active_adapters_per_evaluation_key(parts) -> dict[str, list[tuple[str, ...]]]:
    """Which adapters were active in each forward of a real test pass, by language."""
    seen: dict[str, set[tuple[str, ...]]] = {}
    route, encoder = parts.net.language_router, parts.net.encoder

    def recording(langs):
        route(langs)
        seen.setdefault(langs, set()).add(tuple(encoder.base_model.active_adapters))

    parts.net.language_router = recording
    trainer = parts.make_trainer(None, None, True)
    trainer.test(parts.module, datamodule=parts.datamodule, verbose=False)
    parts.net.language_router = route
    assert {lang for _, lang in parts.datamodule.test_keys} == set(seen)
    return {lang: sorted(active) for lang, active in seen.items()}


@pytest.mark.slow
def test_a_logged_language_adapter_is_reused_by_run_id_and_by_cache(tmp_path, token_cache):
    from mlflow import MlflowClient

    first_cache = [f"strategy.cache_dir={tmp_path}/first"]
    run_in_process([*TINY, *first_cache], tmp_path, token_cache, "first")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    (first,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    logged = [a.path for a in client.list_artifacts(first.info.run_id, "language_adapters/zh")]
    assert "language_adapters/zh/adapter_model.safetensors" in logged
    by_id = [f"strategy.cache_dir={tmp_path}/second",  # an empty cache: nothing to find there
             f"+strategy.language_adapters.zh={first.info.run_id}",
             f"+strategy.language_adapters.en={first.info.run_id}"]  # fmt: skip
    _, out_dir = run_in_process([*TINY, *by_id], tmp_path, token_cache, "by_id")
    cached_results, _ = run_in_process([*TINY, *first_cache], tmp_path, token_cache, "cached")
    runs = client.search_runs([first.info.experiment_id])
    tags = {r.info.run_id: r.data.tags for r in runs}
    second = next(r for r in runs if "loaded" in r.data.tags["strategy.language_adapter.zh"])
    assert second.data.metrics["madx/mlm_steps/zh"] == 0
    assert second.data.metrics["madx/mlm_steps/en"] == 0
    assert not list((tmp_path / "second").glob("*"))  # nothing trained, nothing cached
    record = json.loads((out_dir / "data_access.json").read_text())
    assert any(e["purpose"] == "training" and e["split"] == "language_adapter"
               and e["lang"] == "zh" for e in record["reads"])  # fmt: skip
    assert record["protocol"].startswith("zero-shot+target-text")
    assert sorted(t.get("strategy.language_adapter.zh") for t in tags.values()) == [
        "cached", f"loaded {first.info.run_id}", "trained"]  # fmt: skip
    assert cached_results["test"]  # the cached run tested as the first did


def test_bad_madx_input_fails_in_one_line(tmp_path):
    local = tmp_path / "data"
    local.mkdir()
    rows = "".join(f'{{"text": "row {i}", "label": "{"ab"[i % 2]}", "lang": "{{}}"}}\n'
                   for i in range(8))  # fmt: skip
    (local / "train.jsonl").write_text(rows.replace("{}", "en"))
    (local / "test.jsonl").write_text(rows.replace("{}", "en") + rows.replace("{}", "de"))
    data = ["dataset=local", f"dataset.files.train={local}/train.jsonl",
            f"dataset.files.test={local}/test.jsonl"]  # fmt: skip
    with pytest.raises(ConfigError, match=r"no language adapter for 'de'.*strategy.corpus.de="):
        built(tmp_path, *data)
    empty, latin1 = tmp_path / "empty.txt", tmp_path / "latin1.txt"
    empty.write_text("\n \n")
    latin1.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    for corpus, message in ((empty, "no sentences"), (latin1, "not valid UTF-8"),
                            (tmp_path / "missing.txt", "not found")):  # fmt: skip
        with pytest.raises(DataError, match=message):
            built(tmp_path, *data, f"+strategy.corpus.de={corpus}")
    with pytest.raises(XltError, match="not an MLflow run id"):
        built(tmp_path, "+strategy.language_adapters.zh=no-such-thing")


def test_a_users_corpus_builds_the_adapter_and_is_recorded(tmp_path):
    corpus = tmp_path / "de.txt"
    corpus.write_text("".join(f"Das ist Satz Nummer {i}.\n" for i in range(40)))
    local = tmp_path / "data"
    local.mkdir()
    rows = "".join(f'{{"text": "row {i}", "label": "{"ab"[i % 2]}", "lang": "LANG"}}\n'
                   for i in range(8))  # fmt: skip
    (local / "train.jsonl").write_text(rows.replace("LANG", "en"))
    (local / "test.jsonl").write_text(rows.replace("LANG", "de"))
    parts = built(
        tmp_path,
        "dataset=local",
        f"dataset.files.train={local}/train.jsonl",
        f"dataset.files.test={local}/test.jsonl",
        f"+strategy.corpus.de={corpus}",
    )
    assert parts.pretrained.metrics["madx/mlm_rows/de"] == 40
    reads = parts.data.access.entries()
    assert any(e["split"] == "corpus" and e["lang"] == "de" and e["detail"] == str(corpus)
               for e in reads)  # fmt: skip


def test_the_cli_says_a_missing_language_adapter_in_one_line_and_exits_2(tmp_path, token_cache):
    from tests.test_cli_end_to_end import run_cli

    corpus = tmp_path / "empty.txt"
    corpus.write_text("")
    proc = run_cli(["strategy=madx", "model=tiny_random", f"+strategy.corpus.zh={corpus}"],
                   tmp_path, token_cache)  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].endswith(f"{corpus}: no sentences in it "
                                                         "(strategy.corpus.zh)")  # fmt: skip
    assert "Traceback" not in proc.stderr


def test_two_trials_saving_one_adapter_keep_the_first_copy(tmp_path):
    """Parallel trials (joblib) can train the same language adapter at once: the second save
    must neither fail nor replace the first, and leaves no staging folder behind."""
    from xlt.models.adapter_store import META_FILE, read_meta, save_adapter

    encoder = built(tmp_path).net.encoder
    folder = tmp_path / "store" / "en-key"
    save_adapter(encoder, "lang_en", folder, {"trial": 1})
    assert save_adapter(encoder, "lang_en", folder, {"trial": 2}) == folder
    assert read_meta(folder)["trial"] == 1 and (folder / META_FILE).exists()
    assert [p.name for p in folder.parent.iterdir()] == ["en-key"]


def _first_masked_batch(queue=None):
    from xlt.models.sources.random_init import build_random_encoder
    from xlt.training.masked_lm import MaskedLMSettings, batches

    tokenizer = build_random_encoder().tokenizer
    rows = [
        tokenizer(text)["input_ids"] for text in ["hello world again", "你好世界", "bye now"] * 4
    ]
    batch = next(batches(rows, MaskedLMSettings(batch_size=4, seed=3), tokenizer))
    if queue is None:
        return batch
    queue.put({k: v.tolist() for k, v in batch.items()})


def test_language_adapter_masking_runs_in_a_sweep_worker_process_with_the_same_masks():
    """joblib runs each trial in a worker process; transformers' collator with `seed=` refused
    to run there, which failed every MAD-X trial of a parallel sweep."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_first_masked_batch, args=(queue,))
    worker.start()
    from_worker = queue.get(timeout=30)
    worker.join(timeout=60)
    assert worker.exitcode == 0
    here = {k: v.tolist() for k, v in _first_masked_batch().items()}
    assert from_worker == here and any(x != -100 for row in here["labels"] for x in row)


def test_the_corpus_vocabulary_head_scores_the_same_logits_over_fewer_pieces():
    """output_vocabulary=corpus: the full head's logits at the corpus's pieces, every label
    mapped to its row; the softmax is over those pieces only."""
    import torch
    from torch import nn

    from xlt.training.masked_lm import TiedMaskedLMHead, corpus_vocabulary

    torch.manual_seed(0)
    table = nn.Embedding(50, 8)
    rows = [[3, 7, 7, 21], [9, 3, 40]]
    vocabulary = corpus_vocabulary(rows)
    assert vocabulary.tolist() == [3, 7, 9, 21, 40]
    full, corpus = TiedMaskedLMHead(table), TiedMaskedLMHead(table, vocabulary)
    corpus.transform.load_state_dict(full.transform.state_dict())
    states = torch.randn(4, 8)
    assert torch.allclose(corpus(states), full(states)[:, vocabulary])
    labels = torch.tensor([21, 3, 40])
    assert corpus.targets(labels).tolist() == [3, 0, 4]
    assert torch.equal(vocabulary[corpus.targets(labels)], labels)


def test_masked_lm_steps_follow_the_runs_precision_and_the_adapter_cache_tells_them_apart():
    """strategy.mlm.precision (${trainer.precision}): bf16-mixed runs the steps under bf16
    autocast (1.45x faster here, docs/benchmarks.md), 32-true in fp32, auto as the trainer
    picks; the two give different adapters, so the cache key differs; anything else is refused."""
    import pytest
    import torch

    from xlt.errors import ConfigError
    from xlt.models.sources.random_init import build_random_encoder
    from xlt.training.masked_lm import MaskedLMSettings, train_masked_lm
    from xlt.training.precision import cpu_has_bf16_units

    auto = MaskedLMSettings(precision="auto").describe()["precision"]
    assert auto == ("bf16-mixed" if cpu_has_bf16_units() else "32-true")
    assert MaskedLMSettings(precision=32).describe()["precision"] == "32-true"
    with pytest.raises(ConfigError, match="strategy.mlm.precision=16-mixed"):
        MaskedLMSettings(precision="16-mixed").describe()
    losses = {}
    for precision in ("32-true", "bf16-mixed"):
        torch.manual_seed(0)
        bundle = build_random_encoder()
        rows = [bundle.tokenizer(t)["input_ids"] for t in ["hello world again", "你好世界"] * 8]
        settings = MaskedLMSettings(steps=3, batch_size=8, precision=precision)
        losses[precision] = train_masked_lm(bundle.encoder, bundle.tokenizer, rows, settings)
    first = {p: stats["loss_first"] for p, stats in losses.items()}
    assert all(torch.isfinite(torch.tensor(v)) for v in first.values())
    assert first["32-true"] != first["bf16-mixed"]  # bf16 matmuls round differently
