"""Recovery, in one place: what turns a crash or a failed trial into something the user can
continue from. Atomic checkpoint files and the RNG state inside them (a resumed run draws the
same batches and dropout masks as an uninterrupted one), resuming a killed run, skipping trials
a retried sweep already finished, advice on out-of-memory."""

from __future__ import annotations

import logging
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Callback
from omegaconf import DictConfig, OmegaConf

from xlt.tracking.manifest import mask_secrets

log = logging.getLogger(__name__)


def hydra_overrides() -> list[str]:
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def job_key() -> str:
    """What identifies a trial within its sweep: its own overrides, in order."""
    own = [
        o for o in hydra_overrides() if not o.lstrip("+~").startswith(("sweep_retry=", "resume="))
    ]
    return " ".join(sorted(mask_secrets(own)))


def finished_trial(cfg: DictConfig) -> dict[str, dict[str, float]] | None:
    """sweep_retry=PARENT: this trial's results if it already finished in that sweep."""
    from xlt.tracking.store import check_tracking_store
    from xlt.tracking.sweep import child_runs, parent_of_current_job

    parent = parent_of_current_job()
    if not cfg.get("sweep_retry") or parent is None:
        return None
    client = check_tracking_store(cfg.logger.tracking_uri)
    for run in child_runs(client, parent):
        if run.info.status == "FINISHED" and run.data.tags.get("job_overrides") == job_key():
            log.info("trial already finished in run %s: skipped", run.info.run_id)
            metrics = run.data.metrics
            return {s: {k: v for k, v in metrics.items() if k.startswith(f"{s}/")}
                    for s in ("dev", "test")}  # fmt: skip
    return None


def out_of_memory(err: BaseException, cfg: DictConfig) -> BaseException:
    """An allocation failure becomes advice (the checkpoints written so far stay); others pass."""
    from xlt.errors import XltError

    text = str(err).lower()
    if not isinstance(err, torch.OutOfMemoryError) and "memory" not in text:
        return err
    batch, half = cfg.dataset.batch_size, max(1, cfg.dataset.batch_size // 2)
    return XltError(
        f"out of memory training with dataset.batch_size={batch}, model.max_length="
        f"{cfg.model.max_length} ({type(err).__name__}). Try dataset.batch_size={half}"
        f" trainer.accumulate_grad_batches={2 * cfg.trainer.accumulate_grad_batches} (the same "
        "examples per step), a smaller model.max_length, or trainer.precision=bf16-mixed on a GPU."
    )


def requeued_by_slurm() -> bool:
    """SLURM restarted this job (pre-emption, `scontrol requeue`, a node failure): its trial
    continues from its last checkpoint in the same MLflow run instead of starting over."""
    return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0


def default_datamodule() -> dict:
    """conf/datamodule/default.yaml (its values follow the dataset and model configs)."""
    from xlt.config.options import CONF_DIR

    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "datamodule" / "default.yaml"))


def resume_target(cfg: DictConfig) -> tuple[DictConfig, str | None, Path | None]:
    """`resume=RUN_ID`: that run's own config, folder and last checkpoint (None: it died before
    its first checkpoint, so it trains from the start, in the same MLflow run).
    `resume=auto`: the run recorded in this output folder, if any (else a fresh run)."""
    from xlt.errors import ConfigError
    from xlt.tracking.store import check_tracking_store

    spec, here = str(cfg.resume), None
    if spec == "auto":
        marker = Path(cfg.paths.output_dir) / "mlflow_run_id"
        if not marker.is_file():
            return cfg, None, None
        spec, here = marker.read_text().strip(), marker.parent
    client = check_tracking_store(cfg.logger.tracking_uri)
    try:
        run = client.get_run(spec)
    except Exception as err:
        raise ConfigError(f"resume={spec}: no such run in {cfg.logger.tracking_uri}") from err
    if run.info.status == "FINISHED":
        raise ConfigError(f"resume={spec}: that run already finished; nothing to resume")
    # A job killed right after it started (SLURM requeues kill the MLflow writer with it) may
    # have sent no output_dir tag; resume=auto knows the folder from its own marker.
    out_dir = Path(run.data.tags.get("output_dir") or here or "")
    saved = out_dir / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"resume={spec}: its run folder {out_dir} (tag output_dir) is gone")
    original = saved_config(out_dir, f"resume={spec}")
    original.resume = spec
    log.info("resuming run %s from %s", spec, last_checkpoint(out_dir) or "the start")
    return original, spec, last_checkpoint(out_dir)


def saved_config(out_dir: Path, what: str) -> DictConfig:
    """The full config a run folder recorded (config.yaml, secrets filled back in from the
    environment: a masked value is never replayed); `what` names the caller in errors."""
    from xlt.config.schema import TrainConfig
    from xlt.tracking.manifest import unmasked

    logged = OmegaConf.to_container(OmegaConf.load(out_dir / "config.yaml"))
    config = unmasked(out_dir, "config.yaml", logged, what)
    config.setdefault("datamodule", default_datamodule())  # saved before conf/datamodule existed
    return OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.create(config))


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
    the previous checkpoint intact, never a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                torch.save(checkpoint, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def rng_state() -> dict[str, Any]:
    """Every generator training draws from, as tensors and plain values (weights_only-safe)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def resume_point(checkpoint: Path | None) -> dict[str, str]:
    """Tags that say where a resumed run continued: the optimizer step of its checkpoint and,
    when SLURM's warning signal wrote it, that signal."""
    if checkpoint is None:
        return {"resumed_at_step": "0"}
    from xlt.training.preemption import SIGNAL_KEY

    saved = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    tags = {"resumed_at_step": str(saved.get("global_step", 0))}
    if saved.get(SIGNAL_KEY):
        tags["resumed_on_signal"] = str(saved[SIGNAL_KEY])
    return tags


def last_checkpoint(output_dir: str | Path) -> Path | None:
    path = Path(output_dir) / "checkpoints" / LAST
    return path if path.is_file() else None
