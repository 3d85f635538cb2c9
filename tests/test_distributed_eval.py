"""Distributed evaluation equals single-process evaluation: a run trained and tested on two CPU
processes (DDP over gloo) reports exactly the test metrics that one process computes from the
same checkpoint, for every task family, on evaluation sets of odd size (47 rows), where the
distributed sampler pads with repeated rows and each process sees only its shard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from omegaconf import open_dict

from tests.conftest import compose_train
from tests.task_fixtures import write_task_files
from tests.test_cli_end_to_end import run_cli

QUICK = ["model=tiny_random", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
         "torch_threads=1", "dataset.batch_size=16", "dataset.eval_batch_size=8"]  # fmt: skip
FAMILIES = {
    "classification": lambda root: ["dataset.limit=47"],
    "pair_classification": lambda root: write_task_files(root, "pairs", 64, 47),
    "tagging": lambda root: write_task_files(root, "tagging", 64, 47),
    "qa": lambda root: write_task_files(root, "qa", 64, 47),
}


def single_process_test(overrides: list[str], root: Path, cache: Path, checkpoint: Path):
    """The same config and checkpoint, tested in this process on one device."""
    from xlt.components import build, prepare

    cfg = compose_train(overrides, root=root)
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "single")
        cfg.paths.cache_dir = str(cache)
    parts = prepare(build(cfg))
    trainer = parts.make_trainer(None, None, True)
    trainer.test(parts.module, datamodule=parts.datamodule, ckpt_path=str(checkpoint),
                 weights_only=True, verbose=False)  # fmt: skip
    return parts.module.results["test"]


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_two_processes_score_exactly_as_one(family, tmp_path, token_cache):
    overrides = [*QUICK, *FAMILIES[family](tmp_path / "data")]
    proc = run_cli(["trainer=ddp", *overrides], tmp_path, token_cache, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    tested = Path(run.data.tags["best_checkpoint"])
    distributed = {k: v for k, v in run.data.metrics.items() if k.startswith("test/")}
    single = single_process_test(overrides, tmp_path, token_cache, tested)
    as_logged = {k: float(np.float32(v)) for k, v in single.items()}  # Lightning logs float32
    assert distributed and distributed == as_logged  # exactly
    rows = (Path(run.data.tags["output_dir"]) / "test_predictions.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 47  # every row once: no padding repeats


def test_multitask_batches_are_shared_out_between_processes():
    from xlt.strategies.sampling import TemperatureBatchSampler

    groups = [range(0, 70), range(70, 100)]  # two languages, 100 rows: 7 batches of 16
    single = list(TemperatureBatchSampler(groups, 16, 2.0, seed=3))
    ranks = [list(TemperatureBatchSampler(groups, 16, 2.0, seed=3, rank=r, world_size=2))
             for r in (0, 1)]  # fmt: skip
    assert len(ranks[0]) == len(ranks[1]) == 4  # 7 rounded up to 8: every process steps alike
    interleaved = [batch for pair in zip(*ranks, strict=True) for batch in pair]
    assert interleaved[:7] == single  # the same draws, dealt out in turn


@pytest.mark.slow
def test_multitask_trains_on_two_processes(tmp_path, token_cache):
    overrides = ["trainer=ddp", "strategy=multitask", *QUICK, "dataset.limit=64",
                 "trainer.log_every_n_steps=1"]  # fmt: skip
    proc = run_cli(overrides, tmp_path, token_cache, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    steps = client.get_metric_history(run.info.run_id, "train/loss")
    assert len(steps) == 4  # 128 rows in batches of 16 = 8 batches, 4 per process
