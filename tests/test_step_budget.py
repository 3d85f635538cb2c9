"""trainer.min_train_steps: a stage on small data trains for more epochs (as many as reach the
step budget), the run records them, and what has its own epochs or limits keeps them."""

from __future__ import annotations

import mlflow
import pytest

QUICK = ["model=tiny_random", "dataset.limit=40", "trainer.max_epochs=1",
         "trainer.enable_progress_bar=false", "torch_threads=1"]  # fmt: skip


def run_tags(cfg) -> dict[str, str]:
    from xlt.pipeline import run

    run(cfg)
    client = mlflow.MlflowClient(cfg.logger.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (only,) = client.search_runs(experiments)
    return only.data.tags


@pytest.mark.parametrize(
    ("extra", "epochs"),
    [
        ([], "4"),  # 40 rows / batch 32 = 2 steps an epoch: ceil(7 / 2) = 4 epochs
        (["trainer.min_train_steps=0"], "1"),  # off
        (["trainer.limit_train_batches=1"], "1"),  # the user's batch limit wins
        (["trainer.max_steps=3"], "1"),  # and the user's step limit
        (["strategy=linear_probe_lbfgs"], "1"),  # an epoch is one L-BFGS step to convergence
    ],
    ids=["stretched", "off", "batch_limit", "step_limit", "lbfgs"],
)
def test_small_data_stretches_to_the_step_budget(compose_cfg, extra, epochs):
    cfg = compose_cfg(*QUICK, "trainer.min_train_steps=7", *extra)
    tags = run_tags(cfg)
    assert tags["epochs.train"] == epochs


@pytest.mark.parametrize(
    ("extra", "validations"),
    [([], 2), (["trainer.check_val_every_n_epoch=4"], 1)],
    ids=["as_many_as_asked", "the_users_cadence"],
)
def test_a_stretched_stage_validates_as_often_as_its_epochs_asked(compose_cfg, extra,
                                                                  validations):  # fmt: skip
    """2 epochs of 2 steps stretched to 7 steps: 4 epochs, validated every 2 (twice, as the 2
    epochs asked, the last epoch among them); a cadence the user set is kept."""
    cfg = compose_cfg(*QUICK, "trainer.max_epochs=2", "trainer.min_train_steps=7", *extra)
    tags = run_tags(cfg)
    client = mlflow.MlflowClient(cfg.logger.tracking_uri)
    (only,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    history = client.get_metric_history(only.info.run_id, "dev/acc/en")
    assert tags["epochs.train"] == "4" and len(history) == validations


def test_the_default_budget_leaves_hsk_topic_alone(compose_cfg, monkeypatch):
    """HSK topic's 3,048 English training rows take 384 steps in the default 4 epochs: more
    than the default budget, so the default run is what it was."""
    from xlt.components import build_data
    from xlt.data.access import Purpose

    cfg = compose_cfg(as_user=True)
    data, *_ = build_data(cfg)
    rows = len(data.subset("train", "en", purpose=Purpose.evaluation))
    steps = -(-rows // cfg.dataset.batch_size) * cfg.trainer.max_epochs
    assert (rows, steps) == (3048, 384) and cfg.trainer.min_train_steps == 300


@pytest.mark.slow
def test_an_explicit_max_epochs_on_the_command_line_is_never_stretched(
    tmp_path, token_cache, monkeypatch
):
    """`xlt-train trainer.max_epochs=1` on small data under the default budget (300 steps):
    one epoch, as asked (it took 43 before); `trainer.min_train_steps=N` given as well still
    stretches."""
    from tests.test_cli_end_to_end import run_cli

    for extra, epochs in (([], "1"), (["trainer.min_train_steps=7"], "4")):
        args = ["model=tiny_random", "dataset.limit=40", "trainer.max_epochs=1",
                "trainer.enable_progress_bar=false", "logger.log_model=false",
                f"hydra.run.dir={tmp_path}/run{len(extra)}", *extra]  # fmt: skip
        proc = run_cli(args, tmp_path, token_cache, as_user=True)  # the users' defaults
        assert proc.returncode == 0, proc.stderr[-2000:]
        client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/outputs/mlflow.db")
        run_id = (tmp_path / f"run{len(extra)}" / "mlflow_run_id").read_text().strip()
        assert client.get_run(run_id).data.tags["epochs.train"] == epochs
