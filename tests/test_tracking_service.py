"""The MLflow writer process: training talks to MLflow through it and never imports MLflow
itself (that import and the store's opening used to sit before the first training step)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

from xlt.errors import TrackingError
from xlt.tracking.service_client import TrackingService, forget, tracking_service


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
