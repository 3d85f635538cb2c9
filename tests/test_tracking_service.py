"""The MLflow writer process: training talks to MLflow through it and never imports MLflow
itself (that import and the store's opening used to sit before the first training step)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from mlflow import MlflowClient

from xlt.config.schema import LoggerConfig
from xlt.errors import TrackingError
from xlt.tracking.run_tracker import RunTracker
from xlt.tracking.service_client import TrackingService, forget, tracking_service
from xlt.training.stop_signals import Stopped


def test_a_run_written_through_the_writer_process_lands_in_the_store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    service = TrackingService(uri)
    try:
        run = service.request(
            "start_run", experiment="exp", experiment_id=None, artifact_location=None,
            run_name="r", tags={"task": "classification"}, run_id=None,
            spool=str(tmp_path / "metrics.jsonl"), source="xlt-train",
        )  # fmt: skip
        (tmp_path / "note.txt").write_text("hello")
        run_id = run["run_id"]
        service.call("log_params", run_id=run_id, params={"model/name": "tiny", "lr": "0.001"})
        for step in range(3):
            service.call("log_metrics", run_id=run_id, metrics={"train/loss": 1.0 / (step + 1),
                         "bad:key": 1.0}, step=step, timestamp=int(time.time() * 1e3))  # fmt: skip
        service.call("set_tag", run_id=run_id, key="seed", value="0")
        service.call("log_artifact", run_id=run_id, path=str(tmp_path / "note.txt"))
        service.call("set_terminated", run_id=run_id, status="FINISHED")
        assert service.request("drain") == 0  # everything sent, in order
    finally:
        service.close()
    assert service.proc.returncode == 0
    client = MlflowClient(tracking_uri=uri)
    logged = client.get_run(run_id)
    assert run["experiment"] == "exp" and logged.info.status == "FINISHED"
    assert logged.data.params == {"model/name": "tiny", "lr": "0.001"}
    assert logged.data.tags["seed"] == "0" and logged.data.tags["mlflow.source.name"] == "xlt-train"
    history = client.get_metric_history(run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert "badkey" in logged.data.metrics  # sanitised as MLflow requires
    assert [a.path for a in client.list_artifacts(run_id)] == ["note.txt"]


def test_a_bad_store_fails_when_opened_naming_the_uri(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    uri = f"sqlite:///{tmp_path}/a-file/mlflow.db"
    with pytest.raises(TrackingError, match="a-file"):
        tracking_service(uri).open(timeout=60)
    forget(uri)  # the next attempt starts a fresh process


@pytest.mark.slow
def test_the_training_path_never_imports_mlflow():
    code = "import sys, xlt.train, xlt.pipeline; print('mlflow' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr[-2000:]


def test_one_writer_per_process_whatever_the_number_of_stores(tmp_path):
    first = tracking_service(f"sqlite:///{tmp_path}/a.db")
    first.open()
    second = tracking_service(f"sqlite:///{tmp_path}/b.db")
    assert first.proc.poll() == 0  # closed cleanly once the trainer moved to another store
    assert tracking_service(f"sqlite:///{tmp_path}/b.db") is second
    forget(f"sqlite:///{tmp_path}/b.db")


def start_run_payload(tmp_path) -> dict:
    return dict(
        experiment="exp",
        experiment_id=None,
        artifact_location=None,
        run_name="r",
        tags={},
        run_id=None,
        spool=str(tmp_path / "metrics.jsonl"),
        source="xlt-train",
    )


def test_a_request_cut_by_a_stop_signal_does_not_answer_the_next_one(tmp_path, stop_handlers):
    """SIGTERM while a request waits for its answer: that answer still comes, later. The next
    request must get its own, or a trial's last `drain` returns at once and the process exits
    with its FAILED status unsent (CI saw a stopped trial's run left RUNNING)."""
    service = TrackingService(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        run_id = service.request("start_run", **start_run_payload(tmp_path))["run_id"]
        for i in range(3000):  # the writer's work ahead of the drain: a few seconds of writes
            service.call("set_tag", run_id=run_id, key=f"k{i}", value="v")
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()
        with pytest.raises(Stopped):
            service.request("drain", timeout=300)  # its answer, 0, arrives after the stop
        assert time.monotonic() - started < 2, "the stop waited for the answer"
        second = service.request("start_run", **start_run_payload(tmp_path))
        assert isinstance(second, dict) and second["run_id"] != run_id
    finally:
        service.close()


def test_a_stop_signal_as_the_run_starts_leaves_it_failed_not_running(
    tmp_path, stop_handlers, monkeypatch
):
    """SIGTERM just after the writer created the run but before its tracker knew the run's id:
    the stop waits until the tracker does, so the run is marked FAILED like any stopped run."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    real_request = TrackingService.request

    def request_then_sigterm(self, op, *args, **kwargs):
        answer = real_request(self, op, *args, **kwargs)
        if op == "start_run":
            os.kill(os.getpid(), signal.SIGTERM)  # handled here, in the main thread
        return answer

    monkeypatch.setattr(TrackingService, "request", request_then_sigterm)
    settings = LoggerConfig(tracking_uri=uri, experiment_name="exp")
    tracker = RunTracker(settings, {"strategy": "zero_shot"}, tmp_path / "out", "r")
    with pytest.raises(Stopped):
        try:
            tracker.open()
        except BaseException as err:  # as pipeline.run does
            tracker.fail(err)
            raise
    (run,) = MlflowClient(tracking_uri=uri).search_runs(
        [MlflowClient(tracking_uri=uri).get_experiment_by_name("exp").experiment_id]
    )
    assert run.info.status == "FAILED" and "SIGTERM" in run.data.tags["error"]
    forget(uri)
