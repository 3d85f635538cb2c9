"""Load on the tracking server: 8 trials at once (joblib) write to a PostgreSQL-backed MLflow
server that is restarted while they train. Every metric each trial logged (its run folder's
spool) is counted in PostgreSQL afterwards, once; parent and children agree."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import with_suite_settings
from tests.servers import background, free_port, postgres_server
from tests.test_cli_end_to_end import XLT_TRAIN

N_TRIALS = 8
SWEEP = with_suite_settings(
    ["-m", "hydra/launcher=joblib", f"hydra.launcher.n_jobs={N_TRIALS}", "torch_threads=1",
     "model=tiny_random", "dataset.limit=300", "trainer.max_epochs=3",
     "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
     f"seed=range(0,{N_TRIALS})"])  # fmt: skip


def query(backend: str, sql: str, *args) -> list[tuple]:
    import psycopg2

    host, port = backend.split("@")[1].split("/")[0].split(":")
    with psycopg2.connect(host=host, port=int(port), user="postgres", dbname="mlflow") as db:
        cursor = db.cursor()
        cursor.execute(sql, args)
        return cursor.fetchall()


def child_runs_in_db(backend: str) -> list[tuple]:
    return query(backend, "select r.run_uuid, r.status from runs r join tags t on "
                 "t.run_uuid = r.run_uuid where t.key = 'mlflow.parentRunId'")  # fmt: skip


def wait_for_children(backend: str, n: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while len(child_runs_in_db(backend)) < n:
        assert time.monotonic() < deadline, f"{n} trial runs did not appear"
        time.sleep(0.5)


def mlflow_server_args(backend: str, artifacts: Path, port: int) -> list[str]:
    mlflow_bin = str(Path(XLT_TRAIN).parent / "mlflow")
    return [mlflow_bin, "server", "--backend-store-uri", backend, "--host", "127.0.0.1",
            "--port", str(port), "--artifacts-destination", str(artifacts),
            "--workers", "2"]  # fmt: skip


def spooled(run_folder: Path) -> Counter:
    """(key, step, timestamp in ms) of every metric the trial logged, from its spool."""
    rows: Counter = Counter()
    for line in (run_folder / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        stamp = int(record["time"] * 1e3)
        rows.update((key, record["step"] or 0, stamp) for key in record["metrics"])
    return rows


@pytest.mark.slow
def test_eight_parallel_trials_survive_a_tracking_server_restart(tmp_path, token_cache):
    import subprocess

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "XLT_ROOT": str(tmp_path), "XLT_CACHE_DIR": str(token_cache),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
    with postgres_server() as backend:
        args = mlflow_server_args(backend, tmp_path / "artifacts", port)
        with background(args, f"{url}/health", tmp_path / "server-1.log"):
            sweep = subprocess.Popen([XLT_TRAIN, *SWEEP, f"logger.tracking_uri={url}"],
                                     cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)  # fmt: skip
            wait_for_children(backend, N_TRIALS)  # every trial is training now
        time.sleep(2)  # the server is down while the trials train and log
        with background(args, f"{url}/health", tmp_path / "server-2.log"):
            output, _ = sweep.communicate(timeout=900)
            assert sweep.returncode == 0, output[-4000:]
        children = child_runs_in_db(backend)
        assert len(children) == N_TRIALS and {s for _, s in children} == {"FINISHED"}
        parent = query(backend, "select r.run_uuid, r.status from runs r join tags t on "
                       "t.run_uuid = r.run_uuid where t.key = 'xlt.sweep'")  # fmt: skip
        assert len(parent) == 1 and parent[0][1] == "FINISHED"
        parents_of_children = query(backend, "select distinct value from tags where "
                                    "key = 'mlflow.parentRunId'")  # fmt: skip
        assert parents_of_children == [(parent[0][0],)]
        counts = dict(query(backend, "select key, value from metrics where run_uuid = %s and "
                            "key like 'sweep/%%'", parent[0][0]))  # fmt: skip
        assert counts == {"sweep/n_trials": N_TRIALS, "sweep/n_failed": 0}
        for run_id, _ in children:
            folder = Path(query(backend, "select value from tags where run_uuid = %s and "
                                "key = 'output_dir'", run_id)[0][0])  # fmt: skip
            logged = spooled(folder)
            stored = Counter(query(backend, "select key, step, timestamp from metrics "
                                   "where run_uuid = %s", run_id))  # fmt: skip
            assert logged and all(stored[row] == 1 for row in logged), run_id  # each row once
            assert sum(k == "train/loss" for k, _, _ in stored) == 3 * 10  # every step
    assert "unreachable" in output  # the trials noticed the outage and queued
