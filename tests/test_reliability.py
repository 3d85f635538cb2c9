"""Fault injection: a run killed mid-training, a kill during a checkpoint write, a failing
trial retried, the tracking server going away mid-run, an out-of-memory step, secrets in the
config. Each checks that nothing already done is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient
from omegaconf import OmegaConf

from tests.conftest import with_suite_settings
from tests.test_cli_end_to_end import XLT_TRAIN, run_cli
from xlt.errors import ConfigError
from xlt.training.checkpoint_files import AtomicCheckpointIO
from xlt.training.stop_signals import Stopped, stop_behind

LEARN = with_suite_settings(
    ["model=tiny_random", "dataset.limit=600", "strategy.optimizer.lr=1e-3",
     "trainer.max_epochs=6", "trainer.deterministic=true", "trainer.log_every_n_steps=1",
     "trainer.enable_progress_bar=false", "trainer.checkpoint_every_n_steps=7"])  # fmt: skip


def env(root: Path, cache: Path) -> dict[str, str]:
    return {**os.environ, "XLT_ROOT": str(root), "XLT_CACHE_DIR": str(cache),
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip


def wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def history(client: MlflowClient, run_id: str, key: str) -> dict[int, float]:
    return {m.step: m.value for m in client.get_metric_history(run_id, key)}


@pytest.mark.slow
def test_a_run_killed_mid_training_resumes_in_the_same_run_with_identical_results(
    tmp_path, token_cache
):
    reference = run_cli([*LEARN, f"hydra.run.dir={tmp_path}/ref"], tmp_path, token_cache)
    assert reference.returncode == 0, reference.stderr[-2000:]

    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen([XLT_TRAIN, *LEARN, f"hydra.run.dir={killed_dir}"], cwd=tmp_path,
                            env=env(tmp_path, token_cache), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for(killed_dir / "checkpoints" / "last.ckpt")  # step 7, mid-epoch 1 (19 steps each)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    run_id = (killed_dir / "mlflow_run_id").read_text()

    resumed = run_cli([f"resume={run_id}"], tmp_path, token_cache)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
    assert len(runs) == 2  # the reference and the killed-then-resumed one: no duplicate run
    ref = next(r for r in runs if r.info.run_id != run_id)
    again = client.get_run(run_id)
    assert again.info.status == "FINISHED" and "resumed_from" in again.data.tags
    tests = {k: v for k, v in ref.data.metrics.items() if k.startswith("test/")}
    assert tests == {k: again.data.metrics[k] for k in tests}  # bit-identical on CPU
    # The loss curve is continuous and equal to the uninterrupted one, step by step.
    assert history(client, run_id, "train/loss") == history(client, ref.info.run_id, "train/loss")


def test_a_failure_during_a_checkpoint_write_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 1, "w": torch.ones(3)}, path)

    def half_then_fail(obj, handle, *args, **kwargs):
        handle.write(b"partial bytes")
        raise KeyboardInterrupt  # what a kill looks like from inside

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left


class SignalsMidWrite:
    """A checkpoint file that sends this process SIGINT on its third write, as a Ctrl-C that
    lands while `torch.save` streams the zip archive."""

    def __init__(self, handle) -> None:
        self.handle, self.writes = handle, 0

    def write(self, data) -> int:
        self.writes += 1
        if self.writes == 3:
            os.kill(os.getpid(), signal.SIGINT)  # handled here, in the main thread
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def test_a_stop_signal_mid_write_is_recognised_under_the_error_torch_raises_over_it(
    tmp_path, stop_handlers
):
    """What CI once saw: SIGINT inside `torch.save`'s writes, and the zip writer's exit raising
    `RuntimeError: unexpected pos` over the stop. The run still ends as a stop."""
    with open(tmp_path / "cut.ckpt", "wb") as out, pytest.raises(RuntimeError) as raised:
        torch.save({"w": torch.ones(50_000)}, SignalsMidWrite(out))
    assert stop_behind(raised.value).signal == signal.SIGINT
    assert stop_behind(RuntimeError("no stop behind this")) is None


def test_a_stop_signal_during_a_checkpoint_write_waits_for_the_new_checkpoint(
    tmp_path, stop_handlers, monkeypatch
):
    """The stop keeps the newest weights, complete, then stops the run."""
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 1, "w": torch.ones(50_000)}, path)
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, out: real_save(obj, SignalsMidWrite(out)))
    with pytest.raises(Stopped):
        io.save_checkpoint({"epoch": 2, "w": torch.zeros(50_000)}, path)
    monkeypatch.undo()
    saved = torch.load(path, weights_only=True)
    assert saved["epoch"] == 2 and torch.all(saved["w"] == 0)
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


@pytest.mark.slow
def test_sigkill_during_checkpoint_writes_never_leaves_a_truncated_file(tmp_path):
    path = tmp_path / "last.ckpt"
    writer = (
        "import sys, torch\n"
        "from xlt.training.checkpoint_files import AtomicCheckpointIO\n"
        "io = AtomicCheckpointIO()\n"
        "for i in range(10**6):\n"
        "    io.save_checkpoint({'i': i, 'w': torch.full((4_000_000,), float(i))}, sys.argv[1])\n"
    )
    for delay in (0.8, 1.1, 1.7):  # kill at different points of a 16 MB write
        proc = subprocess.Popen([sys.executable, "-c", writer, str(path)])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if path.exists():
            state = torch.load(path, weights_only=True)
            assert torch.all(state["w"] == state["i"])  # complete, never half-written


@pytest.mark.slow
def test_a_failed_trial_is_retried_alone_and_the_sweep_completes(tmp_path, token_cache):
    good = tmp_path / "good.jsonl"
    late = tmp_path / "late.jsonl"  # missing at first: that trial fails
    good.write_text("".join(f'{{"text": "t{i}", "label": "{i % 2}", "lang": "{lang}"}}\n'
                            for i in range(40) for lang in ("en", "zh")))  # fmt: skip
    common = ["dataset=local", "model=tiny_random", "trainer.max_epochs=1",
              "trainer.enable_progress_bar=false"]  # fmt: skip
    sweep = ["-m", f"dataset.files.train={good},{late}", *common]
    first = run_cli(sweep, tmp_path, token_cache, timeout=600)
    assert first.returncode == 1 and "1 failed trial(s) of 2" in first.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    (parent,) = [r for r in client.search_runs([client.get_experiment_by_name("xlt-local")
                 .experiment_id]) if r.data.tags.get("xlt.sweep") == "true"]  # fmt: skip

    late.write_text(good.read_text())
    retry = run_cli([*sweep, f"sweep_retry={parent.info.run_id}"], tmp_path, token_cache,
                    timeout=600)  # fmt: skip
    assert retry.returncode == 0, retry.stdout[-2000:] + retry.stderr[-2000:]
    assert "already finished" in retry.stdout + retry.stderr  # the good trial was not rerun
    runs = client.search_runs([parent.info.experiment_id])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.info.status for r in children) == ["FAILED", "FINISHED", "FINISHED"]
    parent = client.get_run(parent.info.run_id)
    assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/n_failed"] == 0


@pytest.mark.slow
def test_the_tracking_server_going_away_mid_run_loses_no_metric(tmp_path, token_cache):
    from tests.servers import free_port, mlflow_server

    port, backend = free_port(), f"sqlite:///{tmp_path}/server.db"
    artifacts, run_dir = tmp_path / "artifacts", tmp_path / "run"
    args = [*LEARN, "trainer.max_epochs=6", f"hydra.run.dir={run_dir}",
            f"logger.tracking_uri=http://127.0.0.1:{port}"]  # fmt: skip
    with mlflow_server(backend, artifacts, tmp_path / "server1.log", port=port):
        proc = subprocess.Popen(
            [XLT_TRAIN, *args], cwd=tmp_path, env=env(tmp_path, token_cache),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        wait_for(run_dir / "checkpoints" / "last.ckpt")
    time.sleep(3)  # the server is down for a while; training goes on
    assert proc.poll() is None
    with mlflow_server(backend, artifacts, tmp_path / "server2.log", port=port) as uri:
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output[-3000:]
        assert "unreachable" in output
        client = MlflowClient(tracking_uri=uri)
        (run,) = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
        steps = history(client, run.info.run_id, "train/loss")
        assert len(steps) == 6 * 19  # every step of 6 epochs (600 rows / 32 per batch)
        assert run.info.status == "FINISHED" and "test/acc/zh" in run.data.metrics


def test_out_of_memory_gets_advice_and_keeps_the_failed_run(compose_cfg, monkeypatch, tmp_path):
    from xlt.errors import XltError
    from xlt.pipeline import run
    from xlt.tasks.classification import Classification

    def oom(self, net, batch):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Classification, "loss", oom)
    cfg = compose_cfg("model=tiny_random", "dataset.limit=40", "trainer.max_epochs=1",
                      "trainer.enable_progress_bar=false")  # fmt: skip
    with pytest.raises(XltError, match=r"dataset.batch_size=16 trainer.accumulate_grad_batches=2"):
        run(cfg)
    client = MlflowClient(tracking_uri=cfg.logger.tracking_uri)
    (failed,) = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
    assert failed.info.status == "FAILED" and "out of memory" in failed.data.tags["error"]


def test_secrets_never_reach_mlflow(compose_cfg, monkeypatch):
    from xlt.pipeline import run
    from xlt.tracking.manifest import unmasked

    monkeypatch.setenv("XLT_TEST_SECRET_ENV", "env-secret-value")
    cfg = compose_cfg("model=tiny_random", "dataset.limit=40", "trainer.max_epochs=1",
                      "trainer.enable_progress_bar=false",
                      "+logger.tags.hub_token=hf_abcdef",
                      "+logger.tags.mirror='https://alice:s3cret-pw@host/x?sig=sig123&a=1'",
                      "+logger.tags.tokens_column=words")  # fmt: skip
    run(cfg)
    client = MlflowClient(tracking_uri=cfg.logger.tracking_uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
    tags = logged.data.tags
    assert tags["hub_token"] == "***" and tags["tokens_column"] == "words"  # whole key parts
    assert tags["mirror"] == "https://alice:***@host/x?sig=***&a=1"  # credentials in values
    assert tags["mlflow.user"] == "unrecorded"  # logger.log_user=true records it
    everything = str(logged.data.params) + str(tags)
    out_dir = Path(cfg.paths.output_dir)
    for name in ("manifest.json", "config.yaml", "overrides.yaml"):
        everything += (out_dir / name).read_text()
    for secret in ("hf_abcdef", "s3cret-pw", "sig123", "env-secret-value"):
        assert secret not in everything
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert "private" not in artifacts
    # resume and xlt-reproduce read the owner-only private copy, never `***`
    private = out_dir / "private" / "config.yaml"
    assert private.stat().st_mode & 0o077 == 0 and "hf_abcdef" in private.read_text()
    masked = OmegaConf.to_container(OmegaConf.load(out_dir / "config.yaml"))
    assert unmasked(out_dir, "config.yaml", masked, "resume")["logger"]["tags"]["hub_token"] == (
        "hf_abcdef")  # fmt: skip
    private.unlink()
    with pytest.raises(ConfigError, match="pass the secret values again"):
        unmasked(out_dir, "config.yaml", masked, "resume")


def test_xlt_reproduce_replays_no_masked_override(tmp_path):
    from xlt.tracking.manifest import keep_private, mask_secrets
    from xlt.tracking.reproduce import replayable

    overrides = ["seed=1", "+model.source.token=hf_secret"]
    logged = mask_secrets(overrides)
    assert logged == ["seed=1", "+model.source.token=***"]
    # the user passes the secret again: it wins, nothing masked is replayed
    assert replayable(logged, tmp_path, ["+model.source.token=hf_new"]) == ["seed=1"]
    with pytest.raises(ConfigError, match="overrides.yaml holds secrets"):
        replayable(logged, tmp_path, [])
    keep_private(tmp_path, {}, overrides)
    assert replayable(logged, tmp_path, []) == overrides


UNREACHABLE = [
    "http://127.0.0.1:9",
    "sqlite:///FILE/mlflow.db",
    "./mlruns",
    "postgresql+psycopg2://xlt:pw-secret@127.0.0.1:9/mlflow",  # no database there
    "postgresql://xlt:pw-secret@127.0.0.1:9/mlflow",
]  # psycopg (v3) not installed


@pytest.mark.parametrize("uri", UNREACHABLE)
def test_an_unreachable_store_fails_before_training_with_the_fix(uri, tmp_path):
    from xlt.errors import TrackingError
    from xlt.tracking.manifest import mask_value
    from xlt.tracking.store import check_tracking_store

    (tmp_path / "a-file").write_text("not a folder")
    uri = uri.replace("FILE", str(tmp_path / "a-file"))
    start = time.monotonic()
    with pytest.raises(TrackingError) as err:
        check_tracking_store(uri)
    message = str(err.value)
    assert mask_value(uri) in message or "file stores" in message
    assert "pw-secret" not in message and len(message.splitlines()) == 1
    assert time.monotonic() - start < 10


def test_library_code_leaves_the_process_as_it_found_it(tmp_path):
    """No global state: building a tiny model or the adversarial mapping draws from its own
    generators, and opening a store sets no environment variable."""
    from xlt.align.adversarial import AdversarialSettings, unsupervised_map
    from xlt.models.sources.random_init import build_random_encoder
    from xlt.tracking.store import check_tracking_store

    environment = dict(os.environ)
    check_tracking_store(f"sqlite:///{tmp_path}/mlflow.db")
    assert dict(os.environ) == environment
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_random_encoder()
    x, y = torch.randn(40, 8), torch.randn(40, 8)
    torch.manual_seed(123)
    build_random_encoder()
    unsupervised_map(x, y, AdversarialSettings(epochs=1, epoch_size=64, restarts=1, dis_hidden=16))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "sweep"), [(signal.SIGTERM, True), (signal.SIGHUP, False),
                                            (signal.SIGINT, False)])  # fmt: skip
def test_a_stop_signal_ends_with_its_status_and_a_failed_run_naming_it(
    sig, sweep, tmp_path, token_cache
):
    """SIGTERM, SIGHUP and SIGINT: exit status 128 + the signal, the trial (and a sweep's
    parent) FAILED with an `error` tag naming the signal, the last checkpoint kept (resuming
    from it: test_a_run_killed_mid_training_resumes_in_the_same_run_with_identical_results)."""
    args = [*LEARN, "trainer.max_epochs=50"]  # given twice: the sweep's parent takes the last
    if sweep:
        args = ["-m", *args, "seed=0,1", f"hydra.sweep.dir={tmp_path}/sweep"]
    else:
        args.append(f"hydra.run.dir={tmp_path}/run")
    proc = subprocess.Popen([XLT_TRAIN, *args], cwd=tmp_path, env=env(tmp_path, token_cache),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    folder = tmp_path / ("sweep/0" if sweep else "run")
    wait_for(folder / "checkpoints" / "last.ckpt", timeout=240)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 128 + sig, stderr[-2000:]
    assert f"xlt: {sig.name} received: the run was stopped" in stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
    trial = client.get_run((folder / "mlflow_run_id").read_text().strip())
    assert trial.info.status == "FAILED" and sig.name in trial.data.tags["error"]
    assert "params/trainable" in trial.data.metrics  # a stopped run keeps what it was
    assert (folder / "checkpoints" / "last.ckpt").is_file()
    if sweep:
        (parent,) = [r for r in runs if r.data.tags.get("xlt.sweep") == "true"]
        assert parent.info.status == "FAILED"
        assert parent.data.tags["error"] == f"stopped by {sig.name} before the sweep ended"
    assert not [r for r in client.search_runs([trial.info.experiment_id])
                if r.info.status == "RUNNING"]  # fmt: skip


@pytest.mark.slow
def test_a_joblib_sweep_stopped_by_sigterm_fails_then_its_retry_finishes_in_the_same_parent(
    tmp_path, token_cache
):
    """The joblib launcher (trials in worker processes): SIGTERM to the sweep ends it with
    143, leaves no run RUNNING and the parent FAILED; `sweep_retry=PARENT` then runs what did
    not finish into the same parent, which ends FINISHED with no failed trial."""
    sweep = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "torch_threads=1",
             *LEARN, "trainer.max_epochs=3", "seed=0,1",
             f"hydra.sweep.dir={tmp_path}/sweep"]  # fmt: skip
    proc = subprocess.Popen([XLT_TRAIN, *sweep], cwd=tmp_path, env=env(tmp_path, token_cache),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    wait_for(tmp_path / "sweep" / "0" / "checkpoints" / "last.ckpt", timeout=240)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    experiment = client.get_experiment_by_name("xlt-hsk_topic").experiment_id
    runs = client.search_runs([experiment])
    assert not [r for r in runs if r.info.status == "RUNNING"]
    (parent,) = [r for r in runs if r.data.tags.get("xlt.sweep") == "true"]
    assert parent.info.status == "FAILED" and "SIGTERM" in parent.data.tags["error"]

    retry = run_cli([*sweep, f"sweep_retry={parent.info.run_id}"], tmp_path, token_cache,
                    timeout=600)  # fmt: skip
    assert retry.returncode == 0, retry.stdout[-2000:] + retry.stderr[-2000:]
    parent = client.get_run(parent.info.run_id)
    assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/n_failed"] == 0
    children = [r for r in client.search_runs([experiment])
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]  # fmt: skip
    finished = sorted(r.data.tags["seed"] for r in children if r.info.status == "FINISHED")
    assert finished == ["0", "1"] and not [r for r in children if r.info.status == "RUNNING"]
