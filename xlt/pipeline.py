"""One training job: build -> prepare -> fit -> evaluate -> record, each a named function.
`run` is the whole flow; what each phase produced is handed to the Recorder (xlt/recorder.py),
the one place that writes it to the job's MLflow run, failures included."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from xlt.components import Components, StoreAccess, build, prepare
from xlt.config.recipes import recipe_tags
from xlt.config.saved import saved_config
from xlt.config.schema import LoggerConfig, Selection
from xlt.config.settings import typed
from xlt.config.validate import check_required
from xlt.errors import Requeued
from xlt.recorder import Recorder
from xlt.tracking.job import quiet_libraries
from xlt.tracking.manifest import CODE_ROOT, git_state
from xlt.tracking.run_tracker import RunTracker
from xlt.tracking.sweep_retry import (
    earlier_attempts,
    finished_trial,
    stopped_trial,
    wait_for_sweep_store,
)
from xlt.tracking.trial_key import job_key
from xlt.training.memory_advice import out_of_memory
from xlt.training.precision import AUTO, trainer_precision, warn_if_slow_precision
from xlt.training.preemption import requeue_this_job
from xlt.training.resume import ResumePoint, requeued_by_slurm, resume_target
from xlt.training.stages import Selected, run_stages, select
from xlt.training.stop_signals import Stopped, stop_behind

log = logging.getLogger(__name__)
PREDICTIONS_FILE = "test_predictions.csv"  # per test row: lang, id, its score and prediction
MODEL_DIR = "model"  # the exported model folder in the run folder (logger.log_model)


def _choice(cfg: DictConfig, group: str) -> str:
    """The option chosen for a config group (`zero_shot`), or the class it builds."""
    if HydraConfig.initialized():
        chosen = HydraConfig.get().runtime.choices.get(group)
        if chosen:
            return str(chosen)
    return str(cfg[group]._target_).rsplit(".", 1)[-1].lower()


def run(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Train and evaluate one configuration: build -> prepare -> fit -> evaluate -> record."""
    quiet_libraries()
    wait_for_sweep_store(cfg.logger.tracking_uri, cfg.logger.get("sweep_store_wait_s", 0))
    attempts = earlier_attempts(cfg.get("sweep_retry"), cfg.logger.tracking_uri)
    if (done := finished_trial(attempts)) is not None:
        return done
    if not cfg.get("resume") and requeued_by_slurm():
        cfg.resume = "auto"  # the same job again: continue the run its folder recorded
    if not cfg.get("resume") and (stopped := stopped_trial(attempts, cfg.logger.tracking_uri)):
        cfg.resume = stopped  # a retried sweep continues a stopped trial in its own run
    cfg, resumed = resumed_config(cfg) if cfg.get("resume") else (cfg, None)
    check_required(cfg)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    chosen = settle_precision(cfg)
    git = git_state()  # xlt's own checkout; two git commands: once per job, tags and manifest
    tags = run_tags(cfg, git) | {"precision.chosen": "auto" if chosen else "config"}
    name = f"{tags['strategy']}-{cfg.model.name}-seed{cfg.seed}"
    tracker = RunTracker(typed(cfg.logger, LoggerConfig), tags, Path(cfg.paths.output_dir), name,
                         resumed.run_id if resumed else None)  # fmt: skip
    recorder = Recorder(tracker, logs_model(cfg.logger.get("log_model", "auto")))
    try:
        tracker.open()
        store = StoreAccess(tracker.uri, tracker.run_id, lambda: tracker.client)  # opened lazily
        parts = prepare(build(cfg, store))
        resume_from = resumed.checkpoint if resumed else None
        recorder.start(parts, git, resume_from)
        trainer, selected = fit(parts, recorder, resume_from)
        results = evaluate(parts, recorder, trainer, selected)
        recorder.finish(parts, trainer, selected, results)
        return results
    except Requeued as requeued:  # SLURM's warning: the next attempt continues this run
        tracker.requeued(requeued.step, requeued.signal_name)
        if rank_zero_only.rank == 0:
            requeue_this_job()
        raise
    except BaseException as err:
        stopped = stop_behind(err)  # a stop a library reported as its own error is a stop
        recorder.failed(stopped or err)
        if stopped is not None and stopped is not err:
            raise Stopped(stopped.signal) from err
        raise


def resumed_config(cfg: DictConfig) -> tuple[DictConfig, ResumePoint | None]:
    """`resume=`: the stopped run's own config (from its folder) and where it stopped; the
    composed config unchanged when `resume=auto` finds no run to continue."""
    point = resume_target(str(cfg.resume), Path(cfg.paths.output_dir), cfg.logger.tracking_uri)
    if point is None:
        return cfg, None
    original = saved_config(point.folder, f"resume={point.run_id}")
    original.resume = point.run_id
    return original, point


def settle_precision(cfg: DictConfig) -> bool:
    """Replace `auto` in trainer.precision by this machine's choice, before anything records
    the config; True when it was chosen here (the run's tags say so)."""
    given, accelerator = str(cfg.trainer.precision), str(cfg.trainer.accelerator)
    cfg.trainer.precision = trainer_precision(given, accelerator)
    warn_if_slow_precision(cfg.trainer.precision, accelerator)
    if given != AUTO:
        return False
    log.info("trainer.precision=auto: %s on this machine (trainer.precision=32-true forces fp32)",
             cfg.trainer.precision)  # fmt: skip
    return True


def logs_model(choice: str) -> bool:
    """`logger.log_model`: true, false, or auto (single runs yes, sweep trials no)."""
    if str(choice).lower() == "auto":
        return not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN)
    return str(choice).lower() == "true"


def run_tags(cfg: DictConfig, git: dict) -> dict[str, str]:
    """What the run is, as MLflow tags, before anything loads."""
    tags = {
        "task": cfg.dataset.task,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "strategy": _choice(cfg, "strategy"),
        "augmentation": _choice(cfg, "augmentation"),
        "selection": cfg.selection.value,
        "seed": str(cfg.seed),
        "precision": str(cfg.trainer.precision),
        "git_commit": git["commit"],
        "job_overrides": job_key(),
        **numerics_tags(cfg),
    }
    if golden := golden_digest(CODE_ROOT):
        tags["golden_digest"] = golden
    tags.update(recipe_tags(cfg))  # a paper recipe claimed by the config, and what differs
    if cfg.model.source.get("trust_remote_code"):
        tags["model.trust_remote_code"] = "true"  # code from the hub ran in this job
    return tags


def numerics_tags(cfg: DictConfig) -> dict[str, str]:
    """What changes a run's numbers without being an override: the attention and projection
    implementations (reports pool only alike)."""
    attention = "sdpa"
    if cfg.model.get("cpu_attention") and not cfg.get("compile"):
        attention = "xlt_cpu (training)"
    return {"attention": attention, "fused_qkv": str(bool(cfg.model.get("fused_qkv"))).lower()}


def golden_digest(root: Path) -> str | None:
    """Digest of the checkout's golden numbers: runs of commits whose digests differ computed
    differently, and a report flags a cell that pools them."""
    path = Path(root) / "tests" / "golden_metrics.json"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else None


def fit(parts: Components, recorder: Recorder, resume_from: Path | None):
    """Every stage of the strategy; then the weights to test and their dev scores."""
    config, module = parts.config, parts.module

    has_dev = bool(parts.datamodule.val_keys)
    if not has_dev:
        log.warning("the data has no %s dev set: nothing selects the checkpoint, the final "
                    "weights are tested (protocol flag no_selection)",
                    parts.source_lang)  # fmt: skip
    elif config.selection == Selection.final:
        log.info("selection=final: the final weights are tested (protocol flag no_selection)")

    def trainer_for(stage):
        return parts.make_trainer(recorder.logger, stage, has_dev)

    try:
        trainer, best = run_stages(module, parts.datamodule, parts.strategy.stages(),
                                   trainer_for, resume_from,
                                   config.trainer.val_every_n_steps is not None)  # fmt: skip
    except (torch.OutOfMemoryError, RuntimeError) as err:
        raise out_of_memory(err, config.dataset.batch_size, config.model.max_length,
                            config.trainer.accumulate_grad_batches) from err  # fmt: skip
    recorder.fitted(module.stage_epochs, parts.datamodule.batch_transform_counters())
    validator = trainer if best is not None else trainer_for(None)
    return trainer, select(module, parts.datamodule, validator, best, parts.selection_metric)


def evaluate(parts: Components, recorder: Recorder, trainer, selected: Selected) -> dict:
    """Test every language with the selected weights; dev scores are those same weights'."""
    recorder.selected(parts, selected)
    ckpt = str(selected.checkpoint) if selected.checkpoint else None
    trainer.test(parts.module, datamodule=parts.datamodule, ckpt_path=ckpt, weights_only=True,
                verbose=False)  # fmt: skip
    return {"dev": selected.dev, "test": dict(parts.module.results.get("test", {}))}
