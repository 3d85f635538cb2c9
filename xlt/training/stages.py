"""The generic stage runner: executes a strategy's declared stages with one Trainer each, one
continuous step count in the logs, and one checkpoint scheme (the best checkpoint by the
selection metric in stages that select, the final weights otherwise). It returns what the
run will test and the dev scores of exactly those weights."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch

from xlt.errors import ConfigError
from xlt.strategies.base import Stage
from xlt.training.module import TransferModule

log = logging.getLogger(__name__)
TrainerFactory = Callable[[Stage], L.Trainer]  # a stage's Trainer


@dataclass
class Selected:
    """The weights to test: a checkpoint (None: the module's final weights) and how they were
    chosen, with the dev scores of those same weights."""

    checkpoint: Path | None
    dev: dict[str, float]
    step: int | None  # the training step the weights are from
    how: str  # "best source dev" / "best target dev" / "final weights"


def first_best(history: list[tuple[int, dict[str, float]]], monitor: str) -> int | None:
    """Index of the first maximum of `monitor` (ModelCheckpoint keeps the first of equal
    scores: it replaces only on a strictly better one)."""
    scores = [s.get(monitor) for _, s in history]
    valid = [i for i, v in enumerate(scores) if v is not None]
    return max(valid, key=lambda i: (scores[i], -i)) if valid else None


def load_selected(module: TransferModule, checkpoint: Path) -> None:
    """Continue from the previous stage's selected weights (frozen ones are unchanged)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    module.load_state_dict(state, strict=False)


def checkpoint_stage(checkpoint: Path | None) -> tuple[int, int]:
    """(stage index, steps of the stages before it) a checkpoint was written in."""
    if checkpoint is None:
        return 0, 0
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    stage, offset = saved.get("xlt_stage", (0, 0))
    return int(stage), int(offset)


def selected_on_disk(callback, stage: Stage) -> Path | None:
    """The checkpoint a stage that finished before a kill selected (its `best.ckpt`)."""
    if not stage.select_on_dev or callback is None or callback.monitor is None:
        return None
    best = Path(callback.dirpath) / f"{callback.filename}.ckpt"
    return best if best.is_file() else None


def run_stages(
    module: TransferModule,
    datamodule: L.LightningDataModule,
    stages: list[Stage],
    make_trainer: TrainerFactory,
    resume_from: Path | None,
    validate_final: bool = False,
) -> tuple[L.Trainer, Path | None]:
    """Fit every stage in order; returns the last Trainer and the selected checkpoint of the
    last selecting stage (None when the last stage tests its final weights). `validate_final`:
    dev is checked every N steps, so the final weights are checked too (XTREME's scripts)."""
    resumed_stage, offset = checkpoint_stage(resume_from)
    if resumed_stage >= len(stages):
        raise ConfigError(f"resume: {resume_from} is from stage {resumed_stage + 1}, but this "
                          f"strategy has {len(stages)} stage(s)")  # fmt: skip
    best: Path | None = None
    for index, stage in enumerate(stages):
        if index < resumed_stage:  # finished before the kill: its selected weights are on disk
            best = selected_on_disk(make_trainer(stage).checkpoint_callback, stage)
            continue
        if index and stage.start_from_selected and best is not None:
            load_selected(module, best)
        module.stage, module.stage_index = stage, index
        if index == resumed_stage and resume_from is not None:
            module.step_offset = offset
        trainer = make_trainer(stage)
        if trainer.logger is not None:  # logged steps continue across stages
            trainer.logger.step_offset = module.step_offset
        ckpt = str(resume_from) if resume_from is not None and index == resumed_stage else None
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
        module.step_offset += trainer.global_step
        callback = trainer.checkpoint_callback
        selected = stage.select_on_dev and callback is not None and callback.monitor is not None
        if selected and validate_final:
            check_final_weights(trainer, module, datamodule, callback)
        best = Path(callback.best_model_path) if selected and callback.best_model_path else None
        log.info("stage %s done at step %d", stage.name, module.step_offset)
    return trainer, best


def check_final_weights(trainer: L.Trainer, module: TransferModule, datamodule, callback) -> None:
    """Dev on the final weights when the last step-scheduled check was earlier; they become
    the best checkpoint when strictly better (as a step-scheduled check would have made them)."""
    step = module.step_offset
    if module.dev_history and module.dev_history[-1][0] == step:
        return
    trainer.validate(module, datamodule=datamodule, verbose=False)
    dev = dict(module.results.get("dev", {}))
    module.dev_history.append((step, dev))
    score, best = dev.get(callback.monitor), callback.best_model_score
    if score is not None and (best is None or score > float(best)):
        path = Path(callback.best_model_path or Path(callback.dirpath) / "best.ckpt")
        trainer.save_checkpoint(path, weights_only=True)
        callback.best_model_path, callback.best_model_score = str(path), torch.tensor(score)
    log.info("final weights at step %d: %s %.4f", step, callback.monitor, score or float("nan"))


def select(
    module: TransferModule,
    datamodule: L.LightningDataModule,
    validator: L.Trainer,
    best: Path | None,
    monitor: str,
) -> Selected:
    """The dev scores of the weights that will be tested: those of the validation that chose
    the checkpoint, or a fresh dev pass (`validator`) over the weights that will be tested."""
    how = f"best {monitor}"
    if best is not None:
        index = first_best(module.dev_history, monitor)
        if index is not None:
            step, dev = module.dev_history[index]
            return Selected(best, dict(dev), step, how)
    if not module.val_keys:
        return Selected(best, {}, None, "final weights (no dev set: nothing to select on)")
    ckpt = str(best) if best is not None else None
    validator.validate(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True,
                       verbose=False)  # fmt: skip
    dev = dict(module.results.get("dev", {}))
    return Selected(best, dev, None if best else module.step_offset,
                    how if best else "final weights")  # fmt: skip
