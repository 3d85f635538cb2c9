"""An MLflow logger that keeps training going when the tracking server goes away: every metric
is first appended to a local JSON-lines file, calls that fail are queued, and the queue is sent
as soon as the store answers again (at the latest when the run ends)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only

log = logging.getLogger(__name__)


def fail_fast_http() -> None:
    """MLflow retries a dead server for minutes per call by default; a training step must not
    wait that long (users can still set these themselves)."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


class ResilientMLFlowLogger(MLFlowLogger):
    def __init__(self, *args: Any, spool: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spool = spool
        self.pending: list[Callable[[], None]] = []

    def _try(self, action: Callable[[], None], what: str) -> None:
        """Run `action`, first whatever is queued; on failure queue it and go on."""
        self.pending.append(action)
        while self.pending:
            try:
                self.pending[0]()
            except Exception as err:
                if len(self.pending) == 1 or what != "retry":
                    log.warning(
                        "MLflow store unreachable (%s: %s); training goes on, %d call(s) queued "
                        "and the metrics kept in %s",
                        type(err).__name__, str(err)[:120], len(self.pending), self.spool,
                    )  # fmt: skip
                return
            self.pending.pop(0)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with self.spool.open("a") as out:
            out.write(json.dumps({"time": time.time(), "step": step, "metrics": metrics}) + "\n")
        metrics = dict(metrics)
        self._try(lambda: MLFlowLogger.log_metrics(self, metrics, step), "metrics")

    def call(self, action: Callable[[], None], what: str = "call") -> None:
        """A tag or artifact call, queued like metrics when the store is away."""
        self._try(action, what)

    def flush(self) -> bool:
        """Send the queue now; True when nothing is left."""
        self._try(lambda: None, "retry")
        return not self.pending

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        if not self.flush():
            log.error(
                "MLflow store still unreachable at the end: %d call(s) not sent; every metric is "
                "in %s", len(self.pending), self.spool,
            )  # fmt: skip
            return
        super().finalize(status)
