"""The training side of the MLflow writer process (xlt/tracking/service.py): one process per
store URI and training process, started as early as possible and reused by every trial.

`call` never blocks training (a thread feeds the pipe); `request` waits for the answer.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import select
import subprocess
import sys
import threading
from typing import Any

from xlt.errors import TrackingError
from xlt.training.stop_signals import deferred

_SERVICES: dict[str, TrackingService] = {}


def fail_fast_env() -> dict[str, str]:
    """MLflow retries a dead server for minutes per call by default; the writer must notice in
    seconds so its queue takes over (users can still set these themselves)."""
    return {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "10"),
    }


class TrackingService:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xlt.tracking.service", uri],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, **fail_fast_env()},
        )  # fmt: skip
        self.outbox: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
        self.broken: str | None = None  # why the process cannot be used any more
        self.opened = False
        # Answers written but not read yet: the opening one, and those of requests a stop
        # signal cut short (each is read and dropped before a later request's own answer).
        self.unread = 1
        threading.Thread(target=self._feed, daemon=True, name="xlt-tracking-feed").start()

    def _feed(self) -> None:
        while (message := self.outbox.get()) is not None:
            try:
                pickle.dump(message, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self.broken = "the MLflow writer process exited"
                return
        self.proc.stdin.close()

    def _answer(self, timeout: float | None) -> Any:
        status, value = self._read(timeout)
        if status == "error":
            raise TrackingError(value)
        return value

    def _read(self, timeout: float | None) -> tuple[str, Any]:
        """The next answer in the pipe. A stop signal may cut the wait, never the reading."""
        if self.broken:
            raise TrackingError(f"{self.broken} (store {self.uri})")
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.broken = f"the MLflow writer process did not answer within {timeout:.0f} s"
            raise TrackingError(f"{self.broken} (store {self.uri})")
        with deferred():
            try:
                answer = pickle.load(self.proc.stdout)
            except (EOFError, pickle.UnpicklingError) as err:
                self.broken = f"the MLflow writer process exited (code {self.proc.poll()})"
                raise TrackingError(f"{self.broken} (store {self.uri})") from err
            self.unread -= 1
        return answer

    def open(self, timeout: float = 120) -> None:
        """Waits until the store answered (started at launch, it usually has); a bad URI or a
        dead server raises TrackingError naming the URI and the fix."""
        if not self.opened:
            self._answer(timeout)
            self.opened = True

    def call(self, op: str, **payload: Any) -> None:
        if not self.broken:
            self.outbox.put(("call", op, payload))

    def request(self, op: str, timeout: float | None = 120, **payload: Any) -> Any:
        self.open()
        with deferred():
            self.outbox.put(("request", op, payload))
            self.unread += 1
        while self.unread > 1:  # an earlier request's answer, its wait cut by a stop signal
            self._read(timeout)
        return self._answer(timeout)

    def close(self, timeout: float = 60) -> None:
        """Closes the pipe; the process sends what is queued and exits."""
        self.outbox.put(None)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def tracking_service(uri: str) -> TrackingService:
    """This process's writer for `uri`, started if there is none yet (or the last one broke).
    A process writes to one store at a time: writers for other stores (finished runs, their
    queues already sent) are closed, so in-process runs against many stores keep one writer."""
    for other in [u for u in _SERVICES if u != uri]:
        _SERVICES.pop(other).close(timeout=10)
    service = _SERVICES.get(uri)
    if service is None or service.broken or service.proc.poll() is not None:
        service = _SERVICES[uri] = TrackingService(uri)
    return service


def forget(uri: str) -> None:
    """After a failed open: the next run starts a fresh process (the store may be up by then)."""
    service = _SERVICES.pop(uri, None)
    if service is not None:
        service.close(timeout=5)


@atexit.register
def _close_all() -> None:
    for service in _SERVICES.values():
        service.close()
