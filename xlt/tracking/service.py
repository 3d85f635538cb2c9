"""The MLflow writer process (`python -m xlt.tracking.service URI`).

Importing MLflow and opening a SQL store costs ~2 s of CPU; in the training process that sat on
the path to the first step. Here it runs in a separate process, started when `xlt-train`
launches, on the core the single-threaded imports leave idle (the pattern of W&B's service
process). Training sends it pickled calls through a pipe and never waits for the store: calls
that fail (server away) are queued and sent, in order, once it answers again.

Protocol: stdin carries `(kind, op, payload)` tuples; kind "call" gets no answer, "request" gets
one `("ok", result)` or `("error", message)` on stdout. The first thing written is the answer to
opening the store.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from xlt.errors import TrackingError
from xlt.tracking.model_log import log_model_folder
from xlt.tracking.store import check_tracking_store
from xlt.tracking.store import experiment_id as find_or_create

log = logging.getLogger("xlt.tracking.service")


class StoreWriter:
    """Runs the operations against one MLflow client; keeps failed calls queued, in order."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.pending: list[tuple[str, dict]] = []
        self.spool = "the run folder's metrics.jsonl"
        self.away_since: float | None = None
        self.monitor: Any = None  # MLflow's system-metrics sampler, with logger.system_metrics

    def submit(self, op: str, payload: dict) -> None:
        self.pending.append((op, payload))
        self.flush()

    def flush(self) -> int:
        """Sends what is queued; returns how many calls are still waiting."""
        while self.pending:
            op, payload = self.pending[0]
            try:
                OPS[op](self, **payload)
            except Exception as err:
                if self.away_since is None:
                    self.away_since = time.monotonic()
                    log.warning(
                        "MLflow store unreachable (%s: %s); training goes on, %d call(s) queued "
                        "and the metrics kept in %s",
                        type(err).__name__, str(err)[:120], len(self.pending), self.spool,
                    )  # fmt: skip
                return len(self.pending)
            self.pending.pop(0)
        if self.away_since is not None:
            log.warning("MLflow store reachable again after %.0f s; the queue was sent",
                        time.monotonic() - self.away_since)  # fmt: skip
            self.away_since = None
        return 0

    # ---- operations (payload keys are the keyword arguments) ----

    def start_run(
        self,
        experiment: str | None,
        experiment_id: str | None,
        artifact_location: str | None,
        run_name: str,
        tags: dict[str, str],
        run_id: str | None,
        spool: str,
        source: str,
        log_user: bool = False,
        system_metrics: bool = False,
    ) -> dict[str, str]:
        """A new run (or, resuming, the given one set back to RUNNING); its ids and experiment.
        The OS user name is recorded only with `log_user`."""
        from mlflow.tracking.context.registry import resolve_tags

        self.spool = spool
        if run_id:
            run = self.client.get_run(run_id)
            self.client.update_run(run_id, status="RUNNING")
            experiment_id = run.info.experiment_id
        else:
            if experiment_id is None:
                experiment_id = find_or_create(self.client, experiment, artifact_location)
            # MLflow's context tags (user, source), as MLFlowLogger sets them; the source is the
            # training entry point, not this process.
            tags = {**resolve_tags(tags), "mlflow.source.name": source}
            if not log_user:
                tags["mlflow.user"] = "unrecorded"
            run_id = self.client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
        name = self.client.get_experiment(experiment_id).name
        if system_metrics:
            self.start_system_metrics(run_id)
        return {"run_id": run_id, "experiment_id": experiment_id, "experiment": name}

    def start_system_metrics(self, run_id: str) -> None:
        """MLflow's own sampler, in this process (it measures the machine, not a process)."""
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        self.monitor = SystemMetricsMonitor(run_id, resume_logging=True,
                                            tracking_uri=self.client.tracking_uri)  # fmt: skip
        self.monitor.start()

    def log_inputs(self, run_id: str, datasets: list[dict[str, str]]) -> None:
        """Dataset inputs (xlt/tracking/inputs.py), each with its context tag."""
        from mlflow.entities import Dataset, DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        inputs = [DatasetInput(Dataset(**{k: v for k, v in d.items() if k != "context"}),
                               [InputTag(MLFLOW_DATASET_CONTEXT, d["context"])])
                  for d in datasets]  # fmt: skip
        self.client.log_inputs(run_id, datasets=inputs)

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        from mlflow.entities import Param
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

        items = [Param(k, str(v)[:MAX_PARAM_VAL_LENGTH]) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow's limit per batch
            self.client.log_batch(run_id, params=items[start : start + 100], synchronous=True)

    def log_metrics(
        self, run_id: str, metrics: dict[str, float], step: int, timestamp: int
    ) -> None:
        from mlflow.entities import Metric

        # The characters MLflow accepts in a metric name (Lightning's MLFlowLogger does the same).
        items = [Metric(re.sub(r"[^a-zA-Z0-9_/. -]+", "", k), v, timestamp, step)
                 for k, v in metrics.items()]  # fmt: skip
        for start in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[start : start + 1000], synchronous=True)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.client.set_tag(run_id, key, value)

    def log_artifact(self, run_id: str, path: str) -> None:
        self.client.log_artifact(run_id, path)

    def log_artifacts(self, run_id: str, path: str, artifact_path: str) -> None:
        self.client.log_artifacts(run_id, path, artifact_path)

    def log_model(self, run_id: str, folder: str, tags: dict) -> str:
        """A model folder as the run's MLflow model; its models:/ URI."""

        return log_model_folder(folder, run_id, self.client.tracking_uri, tags)

    def stop_system_metrics(self, run_id: str) -> None:
        """At the run's very end (Lightning closes its logger after every fit and test)."""
        if self.monitor is not None:
            self.monitor.finish()  # its last samples are logged before the run closes
            self.monitor = None

    def set_terminated(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status)

    def drain(self) -> int:
        return self.flush()


OPS: dict[str, Callable[..., Any]] = {
    name: getattr(StoreWriter, name)
    for name in ("start_run", "log_params", "log_metrics", "set_tag", "log_artifact",
                 "log_artifacts", "log_inputs", "log_model", "stop_system_metrics",
                 "set_terminated", "drain")
}  # fmt: skip


def reply(out: BinaryIO, status: str, value: Any) -> None:
    pickle.dump((status, value), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def serve(uri: str, inp: BinaryIO, out: BinaryIO) -> None:

    try:
        writer = StoreWriter(check_tracking_store(uri))
    except TrackingError as err:
        reply(out, "error", str(err))
        return
    reply(out, "ok", None)
    while True:
        try:
            kind, op, payload = pickle.load(inp)
        except EOFError:  # the training process ended (or was killed): send what is left
            if left := writer.flush():
                log.error("MLflow store unreachable at exit: %d call(s) not sent", left)
            return
        if kind == "call":
            writer.submit(op, payload)
            continue
        try:
            if op != "drain":
                writer.flush()  # keep the order: queued calls first
            reply(out, "ok", OPS[op](writer, **payload))
        except Exception as err:
            reply(out, "error", f"{type(err).__name__}: {str(err)[:500]}")


def main() -> None:
    # Ctrl-C reaches the whole process group, and SLURM's warning signals (USR1/USR2) every
    # process of the job; this process stops when the trainer closes the pipe, after sending
    # what is queued (the trainer records the interruption or the requeue first).
    for name in ("SIGINT", "SIGUSR1", "SIGUSR2"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    # Logging a model re-reads it from the store: no progress bars in the run's output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a library's print must not corrupt replies
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"
    )
    serve(sys.argv[1], sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
