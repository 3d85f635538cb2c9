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
    from xlt.components import build, make_trainer

    cfg = compose_train(overrides, root=root)
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "single")
        cfg.paths.cache_dir = str(cache)
    parts = build(cfg)
    trainer = make_trainer(cfg, None, parts.monitor, None)
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
