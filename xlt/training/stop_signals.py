"""Stop signals end a run as a stop, with the status a shell and a scheduler expect.

SIGTERM, SIGINT and SIGHUP raise `Stopped` wherever the process is: the trial's MLflow run is
marked FAILED with an `error` tag naming the signal (its last checkpoint stays), a sweep's
parent likewise, and `xlt-train` exits with 128 + the signal's number. Without this, Lightning
turned SIGTERM into a bare SystemExit (exit status 0: "success") and SIGINT into exit 1, and
SIGHUP killed the process with its run left RUNNING. Inside a SLURM job the scheduler's own
signals are left to SLURM's requeue handling (xlt/training/preemption.py)."""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
received: signal.Signals | None = None  # the stop signal this process got, if any


class Stopped(BaseException):  # noqa: N818  (an outcome, like KeyboardInterrupt, not an error)
    """The process received a stop signal."""

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum)
        super().__init__(f"{self.signal.name} received: the run was stopped")

    @property
    def exit_status(self) -> int:
        return 128 + int(self.signal)


def _raise_stopped(signum: int, frame) -> None:
    global received
    received = signal.Signals(signum)
    raise Stopped(signum)


def stop_on_signals() -> None:
    """From now on a stop signal raises `Stopped`. Python lets only the main thread set
    handlers: elsewhere (a launcher's worker thread) the process keeps what it has."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stopped)
