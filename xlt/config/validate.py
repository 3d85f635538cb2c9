"""Checks that need more than types: `_target_` specs with their classes' own keys, and
settings that only make sense together. All of it runs before any model loads."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import (
    InterpolationToMissingValueError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from xlt.config.options import group_classes
from xlt.config.ranges import check_config
from xlt.config.schema import DatasetConfig
from xlt.data.dataset_splits import DatasetSplits
from xlt.errors import ConfigError, DataError
from xlt.tasks.base import TaskFamily


def check_required(cfg: DictConfig) -> None:
    """Every `???` value given, every key known, every number in its declared range: said in
    one line before anything loads."""
    check_interpolations(cfg)
    missing = sorted(k for k in OmegaConf.missing_keys(cfg) if not k.startswith("hydra"))
    if missing:
        listed = ", ".join(missing)
        raise ConfigError(f"required config value(s) not set: {listed} (e.g. `{missing[0]}=...`)")
    check_config(cfg)


def check_interpolations(node: Any, where: str = "") -> None:
    """Every `${...}` resolves (an unset environment variable, a key that is not there). Hydra's
    own `${hydra:...}` values resolve only inside the app, so outside it they are left."""
    for key in node.keys() if isinstance(node, DictConfig) else range(len(node)):
        path = f"{where}.{key}" if where else str(key)
        try:
            value = node[key]
        except (MissingMandatoryValue, InterpolationToMissingValueError):
            continue  # `???` (or an interpolation to one): said below as not set
        except OmegaConfBaseException as err:
            cause = str(err.__cause__ or err).strip().splitlines()[0].strip("\"'")
            if "HydraConfig was not set" not in cause:
                raise ConfigError(f"{path}: cannot be resolved ({cause})") from None
            continue
        if isinstance(value, DictConfig | ListConfig):
            check_interpolations(value, path)


def check_max_length(max_length: int, encoder_config) -> None:
    """`model.max_length` within the encoder's position table (XLM-R style models keep two
    positions for padding)."""
    positions = getattr(encoder_config, "max_position_embeddings", None)
    if positions is None:
        return
    usable = positions - 2 if encoder_config.model_type in ("xlm-roberta", "roberta") else positions
    if max_length > usable:
        raise ConfigError(
            f"model.max_length={max_length}: out of range, this encoder reads at most {usable} "
            "tokens"
        )


def resolve_languages(dataset: DatasetConfig, data: DatasetSplits) -> tuple[str, list[str]]:
    """(source, targets) of the `dataset` section, checked against the languages the data
    really has."""
    source = dataset.source_lang
    languages = data.languages
    if source not in data.languages_of("train"):
        raise DataError(
            f"dataset.source_lang={source!r}: the train split has no such language; "
            f"it has {data.languages_of('train')}."
        )
    targets = list(dataset.target_langs) or [lang for lang in languages if lang != source]
    unknown = [t for t in targets if t not in languages]
    if unknown:
        raise DataError(
            f"dataset.target_langs: {unknown} not in the dataset {dataset.name!r}, "
            f"which has {languages}."
        )
    if source in targets:
        raise ConfigError(f"dataset.target_langs must not contain the source language {source!r}.")
    if not targets:
        raise ConfigError(f"dataset {dataset.name!r} has no language besides {source!r}.")
    return source, targets


def check_strategy_task(strategy, task: TaskFamily, augmentation) -> None:
    """Both declare the task families they fit (`supported_tasks()`, `tasks`)."""
    supported = strategy.supported_tasks()
    if task.name not in supported:
        raise ConfigError(
            f"strategy {strategy.name!r} works on {list(supported)} tasks, not {task.name!r} "
            f"(strategies for {task.name}: {', '.join(strategies_for(task.name))})."
        )
    if task.name not in augmentation.tasks:
        raise ConfigError(
            f"augmentation {augmentation.name!r} rewrites {list(augmentation.tasks)} rows; "
            f"{task.name} data needs augmentation=none."
        )


def strategies_for(task: str) -> list[str]:
    """Strategy options (conf/strategy/*.yaml) whose class declares `task`: the hint is made
    from the declarations, so a new strategy appears in it without editing a list."""
    return [name for name, cls in group_classes("strategy").items() if task in cls.tasks]
