"""Multiruns: one MLflow parent run, a nested child per trial, failures recorded, a report."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from tests.test_cli_end_to_end import run_cli

TINY = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false"]  # fmt: skip


def sweep_runs(root):
    client = MlflowClient(tracking_uri=f"sqlite:///{root}/outputs/mlflow.db")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parents = [r for r in runs if r.data.tags.get("xlt.sweep") == "true"]
    children = [r for r in runs if MLFLOW_PARENT_RUN_ID in r.data.tags]
    return client, parents, children


@pytest.mark.slow
def test_joblib_sweep_is_one_parent_with_a_child_per_trial(tmp_path, token_cache):
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "torch_threads=1",
            "strategy=zero_shot,linear_probe", "seed=0,1", *TINY]  # fmt: skip
    proc = run_cli(args, tmp_path, token_cache, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client, parents, children = sweep_runs(tmp_path)
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert {c.data.tags[MLFLOW_PARENT_RUN_ID] for c in children} == {parent.info.run_id}
    assert {(c.data.tags["strategy"], c.data.tags["seed"]) for c in children} == {
        ("zero_shot", "0"),
        ("zero_shot", "1"),
        ("linear_probe", "0"),
        ("linear_probe", "1"),
    }
    assert all(c.info.status == "FINISHED" for c in children)
    assert parent.data.metrics["sweep/n_trials"] == 4 and parent.data.metrics["sweep/n_failed"] == 0
    report = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.csv", "report/by_language.png"} <= report


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_others_still_land(tmp_path, token_cache):
    args = ["-m", "dataset.target_langs=[zh],[de]", *TINY]
    proc = run_cli(args, tmp_path, token_cache, timeout=600)
    assert proc.returncode == 1
    assert "1 failed trial(s) of 2" in proc.stdout
    _, parents, children = sweep_runs(tmp_path)
    assert len(parents) == 1 and parents[0].info.status == "FAILED"
    assert parents[0].data.metrics["sweep/n_failed"] == 1
    by_status = {c.info.status: c for c in children}
    assert set(by_status) == {"FINISHED", "FAILED"}
    assert "target_langs" in by_status["FAILED"].data.tags["error"]
    assert "test/acc/zh" in by_status["FINISHED"].data.metrics


@pytest.mark.slow
def test_submitit_local_launcher_runs_trials_as_separate_jobs(tmp_path, token_cache):
    args = ["-m", "hydra/launcher=submitit_local", "torch_threads=1", "seed=0,1", *TINY]
    proc = run_cli(args, tmp_path, token_cache, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, parents, children = sweep_runs(tmp_path)
    assert len(parents) == 1 and len(children) == 2
    assert all(c.info.status == "FINISHED" for c in children)
    assert list(tmp_path.glob("outputs/multiruns/*/*/.submitit"))  # submitit ran the jobs


@pytest.mark.slow
def test_optuna_search_with_a_persistent_study_resumes(tmp_path, token_cache):
    storage = f"sqlite:///{tmp_path}/optuna.db"
    base = ["-m", "experiment=tune_lr", f"hydra.sweeper.storage={storage}",
            "hydra.sweeper.study_name=lr", *TINY]  # fmt: skip
    first = run_cli([*base, "hydra.sweeper.n_trials=2"], tmp_path, token_cache, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cli([*base, "hydra.sweeper.n_trials=3"], tmp_path, token_cache, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]

    import optuna

    study = optuna.load_study(study_name="lr", storage=storage)
    assert len(study.trials) == 3  # the second sweep ran only the missing trial
    lrs = [t.params["strategy.optimizer.lr"] for t in study.trials]
    assert all(2e-5 <= lr <= 5e-4 for lr in lrs) and len(set(lrs)) == 3
    _, parents, children = sweep_runs(tmp_path)
    assert len(parents) == 1 and len(children) == 3  # the study's parent run, continued
    assert parents[0].data.metrics["sweep/n_trials"] == 3 and parents[0].info.status == "FINISHED"
    objective = {round(c.data.metrics["dev/acc/en"], 6) for c in children}
    assert {round(t.value, 6) for t in study.trials} <= objective  # objective = source dev acc
    results = list(tmp_path.glob("outputs/multiruns/*/*/optimization_results.yaml"))
    assert len(results) == 2 and "best_params" in results[-1].read_text()


def test_trials_that_died_before_tracking_count_as_failed(tmp_path):
    """A job folder without an MLflow run (it died at import or start-up) is a failed trial."""
    from omegaconf import open_dict

    from tests.test_config_validation import compose_with_hydra
    from xlt.tracking.sweep import PARENT_FILE, MlflowSweepCallback

    cfg = compose_with_hydra([f"logger.tracking_uri=sqlite:///{tmp_path}/mlflow.db"])
    with open_dict(cfg):
        cfg.hydra.sweep.dir = str(tmp_path / "sweep")
        cfg.hydra.overrides.task = ["seed=0,1,2"]
    callback = MlflowSweepCallback(report=False)
    callback.on_multirun_start(cfg)
    parent = json.loads((tmp_path / "sweep" / PARENT_FILE).read_text())
    client = MlflowClient(tracking_uri=parent["tracking_uri"])
    child = client.create_run(
        parent["experiment_id"], tags={MLFLOW_PARENT_RUN_ID: parent["run_id"]}
    )
    client.set_terminated(child.info.run_id, "FINISHED")
    for job in range(3):
        (tmp_path / "sweep" / str(job) / ".hydra").mkdir(parents=True)
        (tmp_path / "sweep" / str(job) / ".hydra" / "config.yaml").write_text("{}")
    with pytest.raises(SystemExit) as exit_code:
        callback.on_multirun_end(cfg)
    assert exit_code.value.code == 1
    run = client.get_run(parent["run_id"])
    assert run.info.status == "FAILED"
    assert run.data.metrics["sweep/n_trials"] == 3 and run.data.metrics["sweep/n_failed"] == 2
    assert run.data.params["sweep/seed"] == "0,1,2"


def test_an_arm_crosses_only_the_axes_it_leaves_free():
    """experiment=many_languages: the grid (10 strategies x 3 seeds), then its one arm,
    zero-shot with code-switching, x the same 3 seeds: 33 jobs, not 60."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from xlt.config.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", ["experiment=many_languages"], return_hydra_config=True)
    # After Hydra's plugin scan, which executes plugin modules anew (as xlt-train meets them).
    from hydra_plugins.xlt_arms_sweeper.sweeper import XltArmsSweeper

    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("XltArmsSweeper")
    params = [f"{k}={v}" for k, v in sweeper.params.items()]
    overrides = OverridesParser.create().parse_overrides([*params, "experiment=many_languages"])
    (jobs,) = XltArmsSweeper(None, dict(sweeper.params), list(sweeper.arms)).split_arguments(
        overrides, None
    )
    assert len(jobs) == 33
    arm = [sorted(job) for job in jobs[30:]]
    assert arm == [sorted(["experiment=many_languages", f"seed={s}", "strategy=zero_shot",
                           "augmentation=code_switch"]) for s in (0, 1, 2)]  # fmt: skip
    with pytest.raises(ValueError, match="an arm is one configuration"):
        XltArmsSweeper(None, {}, ["strategy=a,b"]).split_arguments(overrides, None)


@pytest.mark.slow
def test_a_sweep_with_an_arm_runs_it_under_the_same_parent(tmp_path, token_cache):
    args = ["-m", "hydra/sweeper=xlt_arms", "strategy=zero_shot", "seed=0,1",
            'hydra.sweeper.arms=["strategy=linear_probe_lbfgs"]', *TINY]  # fmt: skip
    proc = run_cli(args, tmp_path, token_cache, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, (parent,), children = sweep_runs(tmp_path)
    strategies = sorted((c.data.tags["strategy"], c.data.tags["seed"]) for c in children)
    assert strategies == [("linear_probe_lbfgs", "0"), ("linear_probe_lbfgs", "1"),
                          ("zero_shot", "0"), ("zero_shot", "1")]  # fmt: skip
    assert parent.data.metrics["sweep/n_trials"] == 4 and parent.info.status == "FINISHED"
