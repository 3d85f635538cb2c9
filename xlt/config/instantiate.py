"""Instantiating a `_target_` spec (a strategy, a dataset loader, a trainer) with errors that
name the config key instead of Hydra's traceback."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate

from xlt.errors import ConfigError, XltError


def instantiate_spec(spec: Any, key: str, **kwargs: Any) -> Any:
    """Instantiate a `_target_` spec; a bad key or value becomes a ConfigError naming `key`."""
    try:
        return instantiate(spec, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, XltError):  # already a clear message from our own code
            raise cause from None
        detail = str(cause) if cause is not None else str(err)
        raise ConfigError(f"{key}: {detail}") from None
