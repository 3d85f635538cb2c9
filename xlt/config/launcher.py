"""The sweep's launcher, checked before the sweep's MLflow parent run opens: a SLURM controller
that does not answer, or a partition it does not have, is said in one line (exit 2) instead of
submitit's traceback from `sbatch` after the parent run was created."""

from __future__ import annotations

import shutil
import subprocess

from omegaconf import DictConfig

from xlt.errors import ConfigError

FIX = "start slurmctld or point SLURM_CONF at the cluster's slurm.conf, then rerun the sweep"


def uses_slurm(config: DictConfig) -> bool:
    target = str(config.hydra.launcher.get("_target_", ""))
    return target.endswith("SlurmLauncher")


def check_launcher(config: DictConfig) -> None:
    """`hydra/launcher=submitit_slurm`: the controller answers and has the partition asked for."""
    if not uses_slurm(config):
        return
    if shutil.which("scontrol") is None:
        raise ConfigError(
            "hydra/launcher=submitit_slurm: no SLURM client here (scontrol not found); install "
            "slurm-client or run the sweep on a SLURM login node"
        )
    ping = _slurm(["scontrol", "ping"])
    if ping.returncode != 0 or " is UP" not in ping.stdout:
        said = _first_line(ping.stderr or ping.stdout) or "no answer"
        raise ConfigError(f"hydra/launcher=submitit_slurm: the SLURM controller does not answer "
                          f"({said}); {FIX}")  # fmt: skip
    partition = config.hydra.launcher.get("partition")
    if partition:
        known = _slurm(["sinfo", "-h", "-o", "%P"]).stdout.replace("*", "").split()
        if partition not in known:
            raise ConfigError(f"hydra.launcher.partition={partition}: SLURM has no such "
                              f"partition (it has {', '.join(known) or 'none'})")  # fmt: skip


def _slurm(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 1, "", f"{args[0]} timed out after 30 s")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and "*" not in line]
    return lines[0] if lines else ""
