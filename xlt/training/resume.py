"""Continuing a run that stopped: `resume=RUN_ID|auto`, a SLURM requeue, and the config a run
folder recorded (the same config, folder and MLflow run; training continues at the step of
`last.ckpt`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from xlt.config.paths import CONF_DIR
from xlt.config.schema import TrainConfig
from xlt.errors import ConfigError
from xlt.tracking.manifest import unmasked
from xlt.tracking.store import check_tracking_store
from xlt.training.checkpoint_files import last_checkpoint

log = logging.getLogger(__name__)


def requeued_by_slurm() -> bool:
    """SLURM restarted this job (pre-emption, `scontrol requeue`, a node failure): its trial
    continues from its last checkpoint in the same MLflow run instead of starting over."""
    return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0


def default_datamodule() -> dict:
    """conf/datamodule/default.yaml (its values follow the dataset and model configs)."""
    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "datamodule" / "default.yaml"))


def resume_target(cfg: DictConfig) -> tuple[DictConfig, str | None, Path | None]:
    """`resume=RUN_ID`: that run's own config, folder and last checkpoint (None: it died before
    its first checkpoint, so it trains from the start, in the same MLflow run).
    `resume=auto`: the run recorded in this output folder, if any (else a fresh run)."""
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
    logged = OmegaConf.to_container(OmegaConf.load(out_dir / "config.yaml"))
    config = unmasked(out_dir, "config.yaml", logged, what)
    config.setdefault("datamodule", default_datamodule())  # saved before conf/datamodule existed
    return OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.create(config))
