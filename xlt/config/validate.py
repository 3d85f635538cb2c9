"""Checks that need more than types: `_target_` specs with their classes' own keys, and
settings that only make sense together. All of it runs before any model loads."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from xlt.data.transfer_data import TransferData
from xlt.errors import ConfigError, DataError, XltError


def check_required(cfg: DictConfig) -> None:
    """Every `???` value must be given; say which, before anything starts."""
    missing = sorted(k for k in OmegaConf.missing_keys(cfg) if not k.startswith("hydra"))
    if missing:
        listed = ", ".join(missing)
        raise ConfigError(f"required config value(s) not set: {listed} (e.g. `{missing[0]}=...`)")


def build(spec: Any, key: str, **kwargs: Any) -> Any:
    """Instantiate a `_target_` spec; a bad key or value becomes a ConfigError naming `key`."""
    try:
        return instantiate(spec, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, XltError):  # already a clear message from our own code
            raise cause from None
        detail = str(cause) if cause is not None else str(err)
        raise ConfigError(f"{key}: {detail}") from None


def resolve_languages(cfg: DictConfig, data: TransferData) -> tuple[str, list[str]]:
    """(source, targets) after checking both against the languages the data really has."""
    source = cfg.dataset.source_lang
    languages = data.languages
    if source not in data.languages_of("train"):
        raise DataError(
            f"dataset.source_lang={source!r}: the train split has no such language; "
            f"it has {data.languages_of('train')}."
        )
    targets = list(cfg.dataset.target_langs) or [lang for lang in languages if lang != source]
    unknown = [t for t in targets if t not in languages]
    if unknown:
        raise DataError(
            f"dataset.target_langs: {unknown} not in the dataset {cfg.dataset.name!r}, "
            f"which has {languages}."
        )
    if source in targets:
        raise ConfigError(f"dataset.target_langs must not contain the source language {source!r}.")
    if not targets:
        raise ConfigError(f"dataset {cfg.dataset.name!r} has no language besides {source!r}.")
    return source, targets
