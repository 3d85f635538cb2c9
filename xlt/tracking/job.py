"""What every tracked job (xlt-train, xlt-align) does around its own work, in one place:
quiet library logging, and the record that lets anyone rerun it (manifest, config, overrides,
the owner-only private copy when secrets were masked)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from xlt.tracking.manifest import build_manifest, keep_private
from xlt.tracking.trial_key import hydra_overrides


def not_a_weights_only_notice(record: logging.LogRecord) -> bool:
    """Lightning says "`weights_only` was not set" at every full (resumable) checkpoint save;
    it reads like a warning about loading, and every load in xlt passes weights_only=True."""
    return "`weights_only` was not set" not in record.getMessage()


def quiet_libraries() -> None:
    """One log line per event: Lightning's own console handler would repeat Hydra's."""
    import datasets

    datasets.disable_progress_bars()
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("lightning.pytorch.trainer.connectors.checkpoint_connector").addFilter(
        not_a_weights_only_notice
    )  # the same function each time: added once
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    # Only frozen encoders are left in eval mode (linear probe), on purpose: no dropout on features.
    warnings.filterwarnings(
        "ignore", message=r".*module\(s\) in eval mode at the start of training.*"
    )
    # With SLURM's binaries installed, Lightning's srun hint echoes the command line (secrets
    # included) into every run's log; xlt's SLURM path is Hydra's submitit launcher.
    warnings.filterwarnings("ignore", message=r".*`srun` command is available on your system.*")
    # Epoch metrics come from torchmetrics, which already synchronises them across processes.
    warnings.filterwarnings("ignore", message=r".*when logging on epoch level in distributed.*")


def record_job(
    tracker, config: dict[str, Any], out_dir: Path, git: dict, data_fingerprint: str
) -> None:
    """Params, config.yaml, overrides.yaml and manifest.json (secrets masked) on the run, and
    the unmasked copy in the run folder's private/ when masking hid something. `config`: the
    resolved config as plain data."""
    overrides = hydra_overrides()
    keep_private(out_dir, config, overrides)
    tracker.start(build_manifest(config, overrides, git, config["seed"], data_fingerprint))
