"""Stop signals end a run as a stop, with the status a shell and a scheduler expect.

SIGTERM, SIGINT and SIGHUP raise `Stopped` wherever the process is: the trial's MLflow run is
marked FAILED with an `error` tag naming the signal (its last checkpoint stays), a sweep's
parent likewise, and `xlt-train` exits with 128 + the signal's number. Without this, Lightning
turned SIGTERM into a bare SystemExit (exit status 0: "success") and SIGINT into exit 1, and
SIGHUP killed the process with its run left RUNNING. Inside a SLURM job the scheduler's own
signals are left to SLURM's requeue handling (xlt/training/preemption.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
TRIAL_GRACE_S = 120  # how long a sweep waits for its trial processes to record their stop
LAUNCHER_PID = "XLT_SWEEP_LAUNCHER_PID"  # set by a sweep's launching process
received: signal.Signals | None = None  # the stop signal this process got, if any
_deferring = 0  # how many `deferred()` blocks the main thread is in
_pending: signal.Signals | None = None  # a stop signal that arrived inside one of them


class Stopped(BaseException):  # noqa: N818  (an outcome, like KeyboardInterrupt, not an error)
    """The process received a stop signal."""

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum)
        super().__init__(f"{self.signal.name} received: the run was stopped")

    @property
    def exit_status(self) -> int:
        return 128 + int(self.signal)


def _raise_stopped(signum: int, frame) -> None:
    global received, _pending
    received = signal.Signals(signum)
    if _deferring:
        _pending = received  # raised when the block ends
        return
    raise Stopped(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A stop signal that arrives inside waits until the block ends, then raises `Stopped`.
    For the few steps that must not be cut in half: an answer half read from the MLflow writer
    (the next request would read it as its own), a run created but not yet known to its
    tracker (nothing could mark it FAILED), a checkpoint being written (torch's zip writer
    would raise its own error over the stop). Python runs signal handlers in the main thread
    only, so a module-level count is enough; in another thread the block defers nothing."""
    global _deferring, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            stopped, _pending = _pending, None
            raise Stopped(stopped)  # chained to the block's own error, if it had one


def stop_behind(err: BaseException) -> Stopped | None:
    """The `Stopped` an error stands for: itself, or one a library turned into its own error
    (a signal cut `torch.save` mid-write and the zip writer's exit raised RuntimeError over
    it). Such a run was stopped, not broken, and must end with the signal's status."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, Stopped):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def stop_on_signals() -> None:
    """From now on a stop signal raises `Stopped`. Python lets only the main thread set
    handlers: elsewhere (a launcher's worker thread) the process keeps what it has."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stopped)


def stop_sweep_on_signals() -> None:
    """In a sweep's launching process: a stop signal goes on to the trial processes (joblib's
    workers) and is waited for, so each marks its own run as stopped; then `Stopped` here."""
    if threading.current_thread() is not threading.main_thread():
        return
    os.environ[LAUNCHER_PID] = str(os.getpid())  # trial processes started from now inherit it
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop_trials_then_raise)


def in_trial_process() -> bool:
    """Whether this process runs trials for a sweep launched by another (joblib's workers)."""
    return os.environ.get(LAUNCHER_PID, str(os.getpid())) != str(os.getpid())


def _stop_trials_then_raise(signum: int, frame) -> None:
    global received
    received = signal.Signals(signum)
    import psutil

    trials = [p for p in psutil.Process().children() if _takes(p, signum)]
    for process in trials:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signum)
    psutil.wait_procs(trials, timeout=TRIAL_GRACE_S)
    raise Stopped(signum)


def _takes(process, signum: int) -> bool:
    """Whether a child process acts on the signal: not xlt's MLflow writer (it ends when its
    trainer does) and not one that ignores it (multiprocessing's resource tracker)."""
    try:
        if "xlt.tracking.service" in " ".join(process.cmdline()):
            return False
        status = Path(f"/proc/{process.pid}/status").read_text()
    except Exception:  # gone already, or no /proc: signal it anyway
        return True
    ignored = next((line.split()[1] for line in status.splitlines()
                    if line.startswith("SigIgn:")), "0")  # fmt: skip
    return not (int(ignored, 16) >> (signum - 1)) & 1
