"""Several faults at once (issue 36): a 4-trial sweep on the tiny model logs to a
PostgreSQL-backed MLflow server while a seeded driver SIGKILLs the sweep process (which runs
the trial under the basic launcher) 10 times at random moments (during start-up, or after a
random number of newly logged lines: mid-training, mid-validation, mid-test), restarts the
tracking server twice mid-attempt, and after each kill runs the same sweep with
`sweep_retry=PARENT`. The result must equal an uninterrupted sweep's: every trial's test
metrics bit-identical, every training step's loss in the store exactly once, no run left
RUNNING, the parent FINISHED with 4 trials and none failed. The kill schedule is printed, so a
failure can be replayed (SEED)."""

from __future__ import annotations

import http.server
import json
import logging
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import with_suite_settings
from tests.servers import free_port, postgres_server, wait_for_http
from tests.test_cli_end_to_end import XLT_TRAIN
from tests.test_reliability import env
from tests.test_tracking_load import mlflow_server_args, query
from xlt.errors import TrackingError
from xlt.tracking import sweep_retry
from xlt.tracking.sweep import PARENT_FILE

SEED = 36
KILLS = 10
RESTART_IN_ATTEMPTS = (3, 7)  # the tracking server goes down and up during these attempts
SEEDS = (0, 1, 2, 3)
SWEEP = with_suite_settings(
    ["-m", "model=tiny_random", "dataset.limit=300", "trainer.max_epochs=3",
     "trainer.deterministic=true", "trainer.log_every_n_steps=1",
     "trainer.enable_progress_bar=false", "trainer.checkpoint_every_n_steps=4",
     "strategy.optimizer.lr=1e-3", f"seed={','.join(map(str, SEEDS))}"])  # fmt: skip


class TrackingServer:
    """An MLflow server on a fixed port over PostgreSQL, stopped and started at will."""

    def __init__(self, backend: str, root: Path) -> None:
        self.port, self.root = free_port(), root
        self.args = mlflow_server_args(backend, root / "artifacts", self.port)
        self.url, self.proc, self.starts = f"http://127.0.0.1:{self.port}", None, 0

    def start(self) -> None:
        self.starts += 1
        with (self.root / f"server-{self.starts}.log").open("w") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        wait_for_http(f"{self.url}/health")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def parent_id(sweep_dir: Path) -> str | None:
    marker = sweep_dir / PARENT_FILE
    return json.loads(marker.read_text())["run_id"] if marker.is_file() else None


def attempt(args: list[str], root: Path, cache: Path, number: int) -> subprocess.Popen:
    """One `xlt-train` process of the sweep, its output in attempt-NUMBER.log."""
    with (root / f"attempt-{number}.log").open("w") as log:
        return subprocess.Popen([XLT_TRAIN, *args], cwd=root, env=env(root, cache),
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def log_tail(root: Path, number: int) -> str:
    return (root / f"attempt-{number}.log").read_text()[-3000:]


def logged_lines(sweep_dir: Path) -> list[str]:
    """Every line the trials' spools (metrics.jsonl) hold: the sweep's progress, since a resumed
    trial never logs a (step, metric) twice."""
    return [line for spool in sorted(sweep_dir.glob("*/metrics.jsonl"))
            for line in spool.read_text().splitlines()]  # fmt: skip


def wait_for_progress(proc: subprocess.Popen, sweep_dir: Path, lines: int) -> int | None:
    """Until the sweep has logged `lines` more lines (None) or the attempt ended (its exit)."""
    target, deadline = len(logged_lines(sweep_dir)) + lines, time.monotonic() + 600
    while len(logged_lines(sweep_dir)) < target:
        if (code := proc.poll()) is not None:
            return code
        assert time.monotonic() < deadline, "the sweep stopped making progress"
        time.sleep(0.02)
    return None


def ended_within(proc: subprocess.Popen, seconds: float) -> int | None:
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def kill_moment(rng: random.Random, start_up_allowed: bool) -> tuple[str, float]:
    """Where the next kill lands: while the process starts (seconds after its start), or after
    1-24 newly logged lines, which puts it mid-training, mid-validation or mid-test whatever
    the machine's speed. 10 kills need at most 240 of the sweep's 272 lines: the 10th always
    comes before the sweep's end."""
    start_up, seconds, lines = rng.random() < 0.25, rng.uniform(0.5, 6.0), rng.randint(1, 24)
    return ("start-up", seconds) if start_up and start_up_allowed else ("progress", lines)


def run_until_kill(proc, sweep_dir: Path, moment: tuple[str, float], server) -> int | None:
    """The attempt's exit if it ended by itself, else None once the kill moment is reached
    (the server restarted half-way when one is given)."""
    kind, amount = moment
    if kind == "start-up":
        return ended_within(proc, amount)
    lines = int(amount)
    if server is not None:
        half = max(1, lines // 2)
        if (code := wait_for_progress(proc, sweep_dir, half)) is not None:
            return code
        server.stop(), time.sleep(2), server.start()
        lines -= half
    return wait_for_progress(proc, sweep_dir, max(1, lines))


TRAINING_KEYS = {"epoch", "train/loss", "lr-AdamW/pg1", "lr-AdamW/pg2"}


def last_logged(sweep_dir: Path) -> str:
    """The metrics of the sweep's last logged line, "mid-training" for a training step's."""
    lines = logged_lines(sweep_dir)
    keys = set(json.loads(lines[-1])["metrics"]) if lines else set()
    return "mid-training" if keys and keys <= TRAINING_KEYS else ",".join(sorted(keys))[:60]


def chaos(server: TrackingServer, root: Path, cache: Path, schedule: list[str]) -> None:
    """10 kills with a retry after each, two server restarts; then the last retry to its end.
    `schedule` gets one line per event."""
    rng, sweep_dir = random.Random(SEED), root / "chaos"
    args = [*SWEEP, f"logger.tracking_uri={server.url}", f"hydra.sweep.dir={sweep_dir}"]
    for number in range(KILLS + 1):
        parent = parent_id(sweep_dir)
        retry = [f"sweep_retry={parent}"] if parent else []
        proc = attempt([*args, *retry], root, cache, number)
        if number == KILLS:  # the last retry runs to its end
            code = proc.wait(timeout=900)
            schedule.append(f"attempt {number}: ran to its end, exit {code}")
            assert code == 0, "\n".join([*schedule, log_tail(root, number)])
            return
        moment = kill_moment(rng, start_up_allowed=number not in RESTART_IN_ATTEMPTS)
        restart = server if number in RESTART_IN_ATTEMPTS else None
        code = run_until_kill(proc, sweep_dir, moment, restart)
        schedule.append(f"attempt {number}: {moment[0]} {moment[1]:g}"
                        + (" (tracking server restarted half-way)" if restart else ""))  # fmt: skip
        assert code is None, "\n".join([*schedule, f"ended, exit {code}", log_tail(root, number)])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = f" after {last_logged(sweep_dir)}" if moment[0] == "progress" else ""
        schedule[-1] += f": SIGKILL{after}"


def trials_by_seed(client: MlflowClient, experiment: str) -> dict[str, list]:
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    trials: dict[str, list] = {}
    for run in runs:
        if "mlflow.parentRunId" in run.data.tags:
            trials.setdefault(run.data.tags["seed"], []).append(run)
    return trials


@pytest.mark.slow
def test_ten_kills_and_two_server_restarts_lose_nothing(tmp_path, token_cache):
    reference = subprocess.run([XLT_TRAIN, *SWEEP, f"hydra.sweep.dir={tmp_path}/reference"],
                               cwd=tmp_path, env=env(tmp_path, token_cache), capture_output=True,
                               text=True, timeout=900)  # fmt: skip
    assert reference.returncode == 0, reference.stderr[-3000:]
    local = MlflowClient(f"sqlite:///{tmp_path}/outputs/mlflow.db")
    expected = {seed: runs[0] for seed, runs in trials_by_seed(local, "xlt-hsk_topic").items()}

    with postgres_server() as backend:
        server = TrackingServer(backend, tmp_path)
        server.start()
        schedule: list[str] = []
        try:
            chaos(server, tmp_path, token_cache, schedule)
            client = MlflowClient(server.url)
            trials = trials_by_seed(client, "xlt-hsk_topic")
            parent = client.get_run(parent_id(tmp_path / "chaos"))
            stored = {run.info.run_id: query(backend, "select step, count(*) from metrics "
                                             "where run_uuid = %s and key = 'train/loss' "
                                             "group by step", run.info.run_id)
                      for runs in trials.values() for run in runs}  # fmt: skip
        finally:
            print(f"\nkill schedule (SEED={SEED}):\n  " + "\n  ".join(schedule))
            server.stop()
    assert sorted(trials) == sorted(expected) == [str(s) for s in SEEDS]
    continued = {seed: next(r.data.tags.get("resumed_from", "") for r in runs
                            if r.info.status == "FINISHED")
                 for seed, runs in trials.items()}  # fmt: skip
    print("runs per trial:", {seed: len(runs) for seed, runs in trials.items()},
          "\nfinished run continued from:", continued)  # fmt: skip
    assert len([e for e in schedule if "SIGKILL" in e]) == KILLS
    assert len([e for e in schedule if "mid-training" in e]) >= 3, schedule
    for seed, runs in trials.items():
        assert not [r for r in runs if r.info.status == "RUNNING"], seed
        (done,) = [r for r in runs if r.info.status == "FINISHED"]
        tests = {k: v for k, v in expected[seed].data.metrics.items() if k.startswith("test/")}
        assert tests == {k: done.data.metrics[k] for k in tests}, seed  # bit-identical
        steps = dict(stored[done.info.run_id])
        reference_steps = {m.step for m in local.get_metric_history(expected[seed].info.run_id,
                                                                    "train/loss")}  # fmt: skip
        assert set(steps) == reference_steps and set(steps.values()) == {1}, seed  # each once
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["sweep/n_trials"] == 4 and parent.data.metrics["sweep/n_failed"] == 0


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_sweep_trial_waits_for_a_server_that_comes_back(monkeypatch, caplog):
    """A trial starting while the server restarts waits for it (the chaos sweep hit this at a
    trial boundary: every later trial failed in a second); past the patience, one line."""
    port = free_port()
    caplog.set_level(logging.WARNING, logger=sweep_retry.__name__)
    monkeypatch.setattr(sweep_retry, "parent_of_current_job", lambda: {"run_id": "p"})
    servers: list[http.server.HTTPServer] = []

    def start_server() -> None:  # the port opens 2 s from now
        servers.append(http.server.HTTPServer(("127.0.0.1", port), Health))
        servers[0].serve_forever()

    threading.Timer(2.0, start_server).start()
    waiting_since = time.monotonic()
    try:
        sweep_retry.wait_for_sweep_store(f"http://127.0.0.1:{port}", patience_s=30)
        assert time.monotonic() - waiting_since >= 1.5
        assert "waiting up to 30 s" in caplog.text
    finally:
        servers[0].shutdown(), servers[0].server_close()
    with pytest.raises(TrackingError, match="waited 1 s: logger.sweep_store_wait_s"):
        sweep_retry.wait_for_sweep_store(f"http://127.0.0.1:{port}", patience_s=1)
    monkeypatch.setattr(sweep_retry, "parent_of_current_job", lambda: None)
    sweep_retry.wait_for_sweep_store(f"http://127.0.0.1:{port}", patience_s=30)  # not a sweep
