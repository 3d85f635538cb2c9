"""The Lightning logger of a training run: every metric is appended to a local JSON-lines file
first, then handed to the MLflow writer process (xlt/tracking/service.py), which queues what
the store cannot take yet. Training never waits for the store and never imports MLflow."""

from __future__ import annotations

import json
import os
import time
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities import rank_zero_only

from xlt.tracking.service_client import TrackingService

STATUS = {"success": "FINISHED", "finished": "FINISHED", "failed": "FAILED",
          "scheduled": "SCHEDULED"}  # fmt: skip


class ServiceLogger(Logger):
    def __init__(
        self, service: TrackingService | None, run: Mapping[str, str], spool: Path
    ) -> None:
        super().__init__()
        self.service = service  # None on ranks other than 0: they never write
        self.run_id: str | None = run.get("run_id")
        self.experiment_id: str | None = run.get("experiment_id")
        self._name = run.get("experiment", "")
        self.spool = spool
        self.step_offset = 0  # steps of earlier training stages (one count over the whole run)
        # A resumed run redoes the steps after its checkpoint: what the killed attempt already
        # logged (step, key) is not logged twice.
        self.already_logged: set[tuple[int, str]] = set()

    def resume_logging(self) -> None:
        """What earlier attempts of this run logged (the run folder's spool): sent again with
        their own timestamps (the store ignores exact repeats; a job killed with its writer,
        as SLURM kills a requeued job, may have sent none of them), and not logged anew."""
        if not self.spool.is_file():
            return
        raw = self.spool.read_bytes()
        if not raw.endswith(b"\n"):  # a line cut by a SIGKILL while written: dropped, so that
            raw = raw[: raw.rfind(b"\n") + 1]  # its step is logged again when it is replayed
            os.truncate(self.spool, len(raw))
        for line in raw.decode("utf-8").splitlines():
            record = json.loads(line)
            stamp = int(record["time"] * 1e3)
            self.send("log_metrics", metrics=record["metrics"], step=record["step"] or 0,
                      timestamp=stamp)  # fmt: skip
            if record.get("step") is not None:
                self.already_logged.update((record["step"], k) for k in record["metrics"])

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str | None:
        return self.run_id

    @property
    def experiment(self) -> TrackingService | None:
        return self.service

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kw: Any) -> None:
        flat = _flatten_dict(_convert_params(params))  # keys as Lightning's MLFlowLogger: a/b/c
        self.send("log_params", params={k: str(v) for k, v in flat.items()})

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        step = step + self.step_offset if step is not None else None
        values = {k: float(v) for k, v in metrics.items()
                  if not isinstance(v, str) and (step, k) not in self.already_logged}  # fmt: skip
        if not values:
            return
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        now = time.time()  # one timestamp for the spool and the store: a resend is a repeat
        with self.spool.open("a") as out:
            out.write(json.dumps({"time": now, "step": step, "metrics": values}) + "\n")
        self.send("log_metrics", metrics=values, step=step or 0, timestamp=int(now * 1e3))

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        """Lightning calls this after every fit, validation and test: the run goes on (dev
        selection, testing, recording) and stays RUNNING until the tracker ends it."""

    def terminate(self, status: str) -> None:
        """The run's end: FINISHED, FAILED, or SCHEDULED (requeued by SLURM)."""
        self.send("set_terminated", status=STATUS.get(status, status))

    def send(self, op: str, **payload: Any) -> None:
        if self.service is not None and self.run_id is not None:
            self.service.call(op, run_id=self.run_id, **payload)
