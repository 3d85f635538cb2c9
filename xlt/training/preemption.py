"""SLURM's warning before a job is stopped: `--signal=USR1@90` sends USR1 90 s before the time
limit (submitit asks for USR2), and a pre-empting scheduler sends the same. xlt then does what
Lightning's SLURM environment does, at a step boundary: write `last.ckpt`, requeue the job with
`scontrol requeue` and stop; the requeued job resumes from that step in the same MLflow run
(xlt/training/recovery.py). Lightning's own handler is not used: it saves a separate
`hpc_ckpt` in the middle of a step and marks the MLflow run finished."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch import Callback

from xlt.errors import Requeued

log = logging.getLogger(__name__)
SIGNAL_KEY = "xlt_saved_on_signal"  # in a checkpoint written because the scheduler warned


def warning_signals() -> list[signal.Signals]:
    """USR1 (Lightning's and most sites' choice) and, under submitit, its own signal."""
    names = {"USR1"}
    if os.environ.get("SUBMITIT_EXECUTOR") == "slurm":
        names.add(os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))
    return [getattr(signal, f"SIG{name}") for name in sorted(names)]


def in_slurm_job() -> bool:
    return bool(os.environ.get("SLURM_JOB_ID"))


def slurm_environment() -> list[SLURMEnvironment]:
    """Inside a SLURM job, Lightning's SLURM environment without its own requeue handler (it
    would also act while testing, where xlt writes no checkpoint, and end the MLflow run)."""
    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


def requeue_this_job() -> None:
    """After the run recorded where it stopped: SLURM then stops every process of the job,
    the MLflow writer included."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    job = f"{array}_{task}" if array and task else os.environ["SLURM_JOB_ID"]  # not the array
    log.warning("requeueing SLURM job %s", job)
    result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
    if result.returncode != 0:
        log.error("scontrol requeue %s failed: %s", job, result.stderr.strip())


class RequeueOnSignal(Callback):
    """Installed for the fit of a checkpointing stage inside a SLURM job. The handler only notes
    the signal: a checkpoint written mid-step would not be consistent."""

    def __init__(self, dirpath: Path, last_name: str = "last.ckpt") -> None:
        self.path = Path(dirpath) / last_name
        self.received: signal.Signals | None = None
        self.pending: str | None = None  # the signal acted on: checkpoint written, stopping
        self.previous: dict[signal.Signals, Any] = {}

    def _note(self, signum: int, _frame: Any) -> None:
        self.received = signal.Signals(signum)

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage == "fit" and not self.previous:  # before Lightning's own handlers
            for sig in warning_signals():
                self.previous[sig] = signal.signal(sig, self._note)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.teardown(trainer, pl_module, "fit")  # Lightning skips teardown hooks on errors

    def on_train_batch_end(self, trainer, *args: Any) -> None:
        """Checkpoint now; stop at the next hook, once Lightning has logged this step."""
        warned = self.received is not None
        if trainer.world_size > 1:  # every rank stops at the same step
            warned = trainer.strategy.reduce_boolean_decision(warned, all=False)
        if warned and self.pending is None:
            self.pending = self.received.name if self.received is not None else "SIGUSR1"
            trainer.save_checkpoint(self.path)
            if trainer.is_global_zero:
                log.warning("%s from SLURM: checkpoint at step %d", self.pending,
                            trainer.global_step)  # fmt: skip

    def on_train_batch_start(self, trainer, *args: Any) -> None:
        if self.pending is not None:  # the run is recorded, then the job requeued
            raise Requeued(trainer.global_step, self.pending)

    def on_train_end(self, trainer, pl_module) -> None:
        self.on_train_batch_start(trainer)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        if self.pending is not None:  # also the end-of-epoch one, if it comes before the stop
            checkpoint[SIGNAL_KEY] = self.pending
