"""`last.ckpt` after every validation and every training epoch, whether or not the monitored
score improved.

Lightning 2.6's ModelCheckpoint writes `last.ckpt` only when it saved a top-k checkpoint at
that step (`on_validation_end` in its model_checkpoint.py), so a run killed after a validation
that did not improve resumed from an older step and trained those steps again; with
`save_top_k=0` (stages that do not select) it never wrote one. This subclass adds the missing
write; the best checkpoint is chosen exactly as before. File names are fixed (no `-v1`
versions): `last.ckpt` is always the latest, `best.ckpt` the best."""

from __future__ import annotations

from lightning.pytorch.callbacks import ModelCheckpoint


class CheckpointEveryValidation(ModelCheckpoint):
    """ModelCheckpoint whose `last.ckpt` follows every validation (and epoch end)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(save_last=True, enable_version_counter=False, **kwargs)

    def _write_last(self, trainer) -> None:
        if self._should_skip_saving_checkpoint(trainer):
            return
        if self._last_global_step_saved != trainer.global_step or not self.last_model_path:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_validation_end(self, trainer, pl_module) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._write_last(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._write_last(trainer)
