"""Continuing a run that stopped: `resume=RUN_ID|auto` and a SLURM requeue find the run, its
folder and its last checkpoint (the same config, folder and MLflow run; training continues at
the step of `last.ckpt`)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from xlt.errors import ConfigError
from xlt.tracking.store import check_tracking_store, run_in_store
from xlt.training.checkpoint_files import last_checkpoint

log = logging.getLogger(__name__)


def requeued_by_slurm() -> bool:
    """SLURM restarted this job (pre-emption, `scontrol requeue`, a node failure): its trial
    continues from its last checkpoint in the same MLflow run instead of starting over."""
    return int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0


@dataclass(frozen=True)
class ResumePoint:
    """A stopped run to continue: its id, its folder (which holds its config.yaml) and its last
    checkpoint (None: it died before its first, so it trains from the start in that run)."""

    run_id: str
    folder: Path
    checkpoint: Path | None


def resume_target(spec: str, output_dir: Path, tracking_uri: str) -> ResumePoint | None:
    """`resume=RUN_ID`: that run. `resume=auto`: the run recorded in `output_dir`, if any
    (None: a fresh run)."""
    here = None
    if spec == "auto":
        marker = output_dir / "mlflow_run_id"
        if not marker.is_file():
            return None
        spec, here = marker.read_text().strip(), marker.parent
    client = check_tracking_store(tracking_uri)
    run = run_in_store(client, spec, "resume")
    if run.info.status == "FINISHED":
        raise ConfigError(f"resume={spec}: that run already finished; nothing to resume")
    # A job killed right after it started (SLURM requeues kill the MLflow writer with it) may
    # have sent no output_dir tag; resume=auto knows the folder from its own marker.
    out_dir = Path(run.data.tags.get("output_dir") or here or "")
    if not (out_dir / "config.yaml").is_file():
        raise ConfigError(f"resume={spec}: its run folder {out_dir} (tag output_dir) is gone")
    log.info("resuming run %s from %s", spec, last_checkpoint(out_dir) or "the start")
    return ResumePoint(spec, out_dir, last_checkpoint(out_dir))
