"""Fail fast, with a clear message, when a hub-backed model or dataset cannot be reached.

Without this, transformers and datasets retry for 20-50 s before failing deep inside.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlparse

from xlt.errors import HubUnavailableError

T = TypeVar("T")
_TRUE = {"1", "true", "yes", "on"}
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def offline_flag() -> str | None:
    """The environment variable that puts Hugging Face libraries offline, if one is set."""
    for var in _OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var}={os.environ[var]} is set"
    return None


def hub_connect_error(timeout_s: float = 3.0) -> str | None:
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return None
    except OSError as err:
        return f"cannot connect to {host}:443 ({err.strerror or err})"


def load_from_hub(kind: str, name: str, offline_alternative: str, load: Callable[[], T]) -> T:
    """Run `load`; offline, only the local cache can answer and a miss becomes a clear error."""
    flag = offline_flag()
    if flag is None:
        error = hub_connect_error()
        if error:  # not flagged offline but unreachable: fail now instead of retrying
            raise _hub_error(kind, name, error, offline_alternative)
    try:
        return load()
    except Exception as err:  # transformers/datasets raise OSError, ValueError, ConnectionError
        if flag:
            raise _hub_error(kind, name, flag, offline_alternative) from err
        raise


def is_cached(repo_id: str, repo_type: str = "model") -> bool:
    """A local folder, or a repository with a snapshot in the Hugging Face hub cache."""
    from pathlib import Path

    if Path(repo_id).expanduser().is_dir():
        return True
    from huggingface_hub.constants import HF_HUB_CACHE

    return (Path(HF_HUB_CACHE) / f"{repo_type}s--{repo_id.replace('/', '--')}").is_dir()


def preflight(kind: str, repo_id: str, offline_alternative: str) -> None:
    """Fail in a second, before any heavy import, when a hub source cannot possibly load."""
    if is_cached(repo_id, "dataset" if kind == "dataset" else "model"):
        return  # the real loader decides
    reason = offline_flag() or hub_connect_error()
    if reason:
        raise _hub_error(kind, repo_id, reason, offline_alternative)


def _hub_error(kind: str, name: str, reason: str, alternative: str) -> HubUnavailableError:
    return HubUnavailableError(
        f"{kind} {name!r} comes from the Hugging Face hub, which is unreachable here ({reason}), "
        f"and it is not in the local cache. Offline, use {alternative}. With network access, "
        "unset HF_HUB_OFFLINE / HF_DATASETS_OFFLINE."
    )
