"""The real console script, end to end: tiny model, small slice of HSK, real MLflow store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import with_suite_settings

XLT_TRAIN = str(Path(sys.executable).parent / "xlt-train")


def run_cli(args: list[str], root: Path, cache: Path, timeout: int = 300, as_user: bool = False):
    """`xlt-train ARGS` in a child process, with the suite's settings unless `as_user`."""
    args = list(args) if as_user else with_suite_settings(args)
    env = {
        **os.environ,
        "XLT_ROOT": str(root),
        "XLT_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    return subprocess.run(
        [XLT_TRAIN, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=root
    )


@pytest.mark.slow
def test_train_cli_logs_a_complete_mlflow_run(tmp_path, token_cache, monkeypatch):
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")  # a 2 s run
    args = ["trainer.max_epochs=1", "model=tiny_random", "dataset.limit=200", "seed=3",
            "logger.system_metrics=true"]  # fmt: skip
    proc = run_cli([*args, "trainer.enable_progress_bar=false"], tmp_path, token_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "transfer gap" in proc.stdout and "xlt-ui --tracking-uri sqlite:///" in proc.stdout

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    experiment = client.get_experiment_by_name("xlt-hsk_topic")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    for key in (
        "test/acc/en",
        "test/acc/zh",
        "test/macro_f1/zh",
        "dev/acc/en",
        "test/transfer_gap",
    ):
        assert key in run.data.metrics, key
    assert 0.0 <= run.data.metrics["test/acc/zh"] <= 1.0
    tags = run.data.tags
    assert (
        tags["strategy"] == "zero_shot" and tags["seed"] == "3" and tags["model"] == "tiny_random"
    )
    assert tags["source_lang"] == "en" and tags["target_langs"] == "zh"
    assert tags["selection"] == "source_dev" and tags["selection_metric"] == "dev/acc/en"
    assert run.data.params["dataset/limit"] == "200"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "overrides.yaml", "metrics_per_language.csv"} <= artifacts
    overrides = Path(client.download_artifacts(run.info.run_id, "overrides.yaml", str(tmp_path)))
    assert "seed=3" in overrides.read_text()
    table = Path(
        client.download_artifacts(run.info.run_id, "metrics_per_language.csv", str(tmp_path))
    )
    assert table.read_text().splitlines()[0] == "language,role,test_acc,test_macro_f1,dev_acc"
    assert "system/cpu_utilization_percentage" in run.data.metrics  # logger.system_metrics
    plots = {a.path: a.file_size for a in client.list_artifacts(run.info.run_id, "plots")}
    assert set(plots) == {"plots/learning_curve.png", "plots/test_by_language.png"}
    assert all(size > 10_000 for size in plots.values())  # drawn, not blank


def test_the_run_logs_its_datasets_as_mlflow_inputs(tmp_path, token_cache):
    """The runs table's Dataset column: a split and language per input, with its context."""
    from tests.golden import run_in_process

    quick = ["model=tiny_random", "dataset.limit=40", "trainer.max_epochs=1",
             "trainer.enable_progress_bar=false"]  # fmt: skip
    run_in_process(quick, tmp_path, token_cache, "inputs")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
    inputs = {(i.dataset.name, i.tags[0].value): i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {("hsk_topic/train/en", "train"), ("hsk_topic/dev/en", "dev"),
                           ("hsk_topic/dev/zh", "dev"), ("hsk_topic/test/en", "test"),
                           ("hsk_topic/test/zh", "test")}  # fmt: skip
    train = inputs["hsk_topic/train/en", "train"]
    assert train.digest == run.data.tags["data_fingerprint"]
    assert json.loads(train.profile) == {"num_rows": 40} and train.source_type == "code"
    columns = {c["name"]: c["type"] for c in json.loads(train.schema)["mlflow_colspec"]}
    assert columns["text"] == "string" and columns["label"] == "long"


@pytest.mark.slow
def test_cfg_job_prints_the_composed_config(tmp_path, token_cache):
    proc = run_cli(["--cfg", "job", "model=tiny_random", "seed=3"], tmp_path, token_cache)
    assert proc.returncode == 0, proc.stderr
    assert "name: tiny_random" in proc.stdout and "seed: 3" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "alternative"),
    [
        ("model=xlmr_base", "model=me5_small"),
        ("dataset=xnli", "dataset=hsk_topic"),
        ("dataset=panx", "dataset=local_tagging"),
        ("dataset=mlqa", "dataset=local_qa"),
    ],
)
def test_hub_configs_fail_fast_offline_with_a_clear_message(
    tmp_path, token_cache, override, alternative
):
    start = time.monotonic()
    proc = run_cli([override, "trainer.enable_progress_bar=false"], tmp_path, token_cache)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2
    assert "unreachable" in proc.stderr and alternative in proc.stderr
    assert "Traceback" not in proc.stderr
    # Fast is "no retries": the hub's own retries take minutes. The bound leaves room for a
    # slow CPU's start-up (10.3 s on a 2-core AMX Xeon).
    assert elapsed < 30, f"took {elapsed:.1f}s"


@pytest.mark.slow
def test_a_typo_in_an_override_fails_before_anything_loads(tmp_path, token_cache):
    proc = run_cli(["dataset.limt=3"], tmp_path, token_cache)
    assert proc.returncode != 0
    assert "limt" in proc.stderr
    assert not (tmp_path / "outputs" / "mlflow.db").exists()


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_logs_one_run_from_rank_zero(tmp_path, token_cache):
    args = ["trainer=ddp", "model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false", "torch_threads=1"]  # fmt: skip
    proc = run_cli(args, tmp_path, token_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1  # rank 1 trained too, but never wrote to MLflow
    assert runs[0].info.status == "FINISHED" and "test/acc/zh" in runs[0].data.metrics
    assert proc.stdout.count("transfer gap") == 1  # the table is printed once, by rank 0


def test_out_of_range_and_unknown_keys_exit_2_with_one_line(tmp_path, token_cache):
    cases = [(["dataset.batch_size=0"], "dataset.batch_size=0: out of range"),
             (["+dataset.limt=3"], "dataset.limt: unknown key"),
             (["strategy=lang_adapters"], "renamed strategy=task_adapter")]  # fmt: skip
    for args, expected in cases:
        proc = run_cli(args, tmp_path, token_cache, timeout=60)
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert lines == [lines[0]] and expected in lines[0] and "Traceback" not in proc.stderr
        assert not (tmp_path / "outputs" / "mlflow.db").exists()  # refused before anything ran
