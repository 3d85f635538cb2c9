"""Checkpoint files on disk: written atomically, `last.ckpt` every N steps, and what a resumed
run reads back from one (the step it continues at)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Callback

from xlt.training.preemption import SIGNAL_KEY
from xlt.training.stop_signals import deferred

LAST = "last.ckpt"


class StepCheckpoint(Callback):
    """`last.ckpt` every N optimizer steps as well as after each validation (atomic, the latest
    only), so a run killed mid-epoch loses at most N steps and resumes where it was (the
    datamodule checkpoints its place in the epoch)."""

    def __init__(self, dirpath: Path, every_n_steps: int) -> None:
        self.path, self.every = Path(dirpath) / LAST, every_n_steps
        self.saved_at = 0

    def on_train_batch_end(self, trainer, *args: Any) -> None:
        step = trainer.global_step
        if step and step % self.every == 0 and step != self.saved_at:
            trainer.save_checkpoint(self.path)
            self.saved_at = step


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file in the same folder, fsync, then rename: a kill mid-write leaves
    the previous checkpoint intact, never a truncated one. A stop signal (SIGTERM, SIGINT,
    SIGHUP) waits until the new checkpoint is in place: the stop keeps the newest weights, and
    torch's zip writer, cut mid-write, would raise its own error over the stop."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with deferred():
                with os.fdopen(handle, "wb") as out:
                    torch.save(checkpoint, out)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def resume_point(checkpoint: Path | None) -> dict[str, str]:
    """Tags that say where a resumed run continued: the optimizer step of its checkpoint and,
    when SLURM's warning signal wrote it, that signal."""
    if checkpoint is None:
        return {"resumed_at_step": "0"}
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    tags = {"resumed_at_step": str(saved.get("global_step", 0))}
    if saved.get(SIGNAL_KEY):
        tags["resumed_on_signal"] = str(saved[SIGNAL_KEY])
    return tags


def last_checkpoint(output_dir: str | Path) -> Path | None:
    path = Path(output_dir) / "checkpoints" / LAST
    return path if path.is_file() else None
