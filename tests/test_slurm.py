"""A sweep through Hydra's submitit launcher on a real single-node SLURM (tests/slurm_cluster.py):
two trials as SLURM jobs. One is requeued mid-training with `scontrol requeue`: it resumes into
the same MLflow run from its last checkpoint. The other gets SLURM's pre-timeout warning
(`scancel --signal=USR1`, what `--signal=USR1@90` sends): it checkpoints at the step it reached,
requeues itself and resumes from that step. No step is logged twice. A sweep SLURM cannot take
ends in one line, and leaves no RUNNING parent run."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import with_suite_settings
from tests.slurm_cluster import missing_binaries, slurm_cluster
from tests.test_cli_end_to_end import XLT_TRAIN

TRIAL = with_suite_settings(
    ["model=tiny_random", "dataset.limit=600", "trainer.max_epochs=6",
     "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1", "torch_threads=1",
     "trainer.checkpoint_every_n_steps=5", "trainer.deterministic=true"])  # fmt: skip
LAUNCHER = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=debug",
            "hydra.launcher.timeout_min=15", "hydra.launcher.cpus_per_task=1",
            "hydra.launcher.mem_gb=1"]  # fmt: skip


def require_slurm() -> None:
    missing = missing_binaries()
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"SLURM binaries missing in CI: {missing} (.ci/run installs them)")
    if missing:
        pytest.skip(f"SLURM not installed here ({missing}); .ci/run installs it")


def wait_for(paths, timeout: float = 300) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(paths())
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError("no checkpoint appeared")


def steps_logged(spools) -> int:
    """Optimizer steps a trial has logged so far (its run folder's metrics spool)."""
    found = list(spools())
    if not found:
        return 0
    lines = found[0].read_text().splitlines()
    return sum('"train/loss"' in line for line in lines)


def wait_for_steps(spools, at_least: int, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (done := steps_logged(spools)) >= at_least:
            return done
        time.sleep(0.2)
    raise AssertionError(f"the trial did not reach step {at_least}")


def array_task(env: dict, index: int) -> str:
    """The SLURM id (JOB_INDEX) of the sweep's trial `index` (an array task)."""
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, env=env)
    return next(job for job in out.stdout.split() if job.endswith(f"_{index}"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[dict[str, str]]:
    require_slurm()
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def xlt_env(env: dict, root: Path, cache: Path) -> dict[str, str]:
    return {**env, "XLT_ROOT": str(root), "XLT_CACHE_DIR": str(cache),
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip


def sweep_cli(args: list[str], env: dict, root: Path) -> subprocess.CompletedProcess:
    command = [XLT_TRAIN, *with_suite_settings(["-m", *LAUNCHER, *args, "model=tiny_random",
                                                 "seed=0,1"])]  # fmt: skip
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_an_unreachable_slurm_controller_is_one_line_and_no_parent_run(tmp_path, token_cache):
    require_slurm()
    host = socket.gethostname().split(".")[0]
    conf = tmp_path / "slurm.conf"  # a controller on a port where nothing listens
    lines = [f"ClusterName=gone\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort=6999",
             f"NodeName={host} CPUs=1\nPartitionName=debug Nodes={host} Default=YES"]  # fmt: skip
    conf.write_text("\n".join(lines) + "\n")
    env = xlt_env({**os.environ, "SLURM_CONF": str(conf)}, tmp_path, token_cache)
    proc = sweep_cli([], env, tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line, no traceback
    assert "SLURM controller does not answer" in proc.stderr and "SLURM_CONF" in proc.stderr
    assert not (tmp_path / "outputs" / "mlflow.db").exists()  # no parent run left RUNNING


@pytest.mark.slow
def test_a_sweep_slurm_refuses_is_one_line_or_a_failed_parent(cluster, tmp_path, token_cache):
    env = xlt_env(cluster, tmp_path, token_cache)
    proc = sweep_cli(["hydra.launcher.partition=gpu"], env, tmp_path)
    assert proc.returncode == 2 and "no such partition (it has debug)" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = sweep_cli(["hydra.launcher.mem_gb=100000"], env, tmp_path)  # sbatch refuses the jobs
    assert proc.returncode != 0 and "Memory specification" in proc.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    parents = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [p.info.status for p in parents] == ["FAILED"]
    assert "launcher stopped" in parents[0].data.tags["error"]


@pytest.mark.slow
def test_a_requeued_slurm_trial_resumes_into_the_same_run(cluster, tmp_path, token_cache):
    env = xlt_env(cluster, tmp_path, token_cache)
    sweep = subprocess.Popen([XLT_TRAIN, "-m", *LAUNCHER, *TRIAL, "seed=0,1"], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)  # fmt: skip
    multiruns = tmp_path / "outputs" / "multiruns"
    wait_for(lambda: multiruns.glob("*/*/0/checkpoints/last.ckpt"))
    subprocess.run(["scontrol", "requeue", array_task(env, 0)], check=True, env=env)
    warned_at = wait_for_steps(lambda: multiruns.glob("*/*/1/metrics.jsonl"), 8)
    warn = ["scancel", "--signal=USR1", array_task(env, 1)]
    subprocess.run(warn, check=True, env=env)
    output, _ = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, output[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
    trials = {r.data.tags["seed"]: r for r in runs if r.data.tags.get("xlt.sweep") != "true"}
    assert set(trials) == {"0", "1"}  # the requeued trial did not start a second run
    assert all(r.info.status == "FINISHED" for r in trials.values())
    assert all("resumed_from" in r.data.tags for r in trials.values())
    warned = trials["1"].data.tags
    assert (
        warned["resumed_on_signal"] == "SIGUSR1"
        and "resumed_on_signal" not in trials["0"].data.tags
    )
    assert int(warned["resumed_at_step"]) == int(warned["requeued_at_step"]) >= warned_at
    for trial in trials.values():
        steps = [m.step for m in client.get_metric_history(trial.info.run_id, "train/loss")]
        assert sorted(steps) == list(range(6 * 19))  # every step once: none lost, none twice
