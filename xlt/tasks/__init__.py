"""Task families, one file each (jiant-style): what a row holds, how it is tokenised, which
head sits on the encoder, its loss and its metrics. `dataset.task` picks one by name."""

from __future__ import annotations

from typing import Any

from xlt.errors import ConfigError
from xlt.tasks.base import TaskType

CLASSIFICATION = ("classification", "pair_classification")
ALL_TASKS = (*CLASSIFICATION, "tagging", "qa")


def get_task(name: str, **options: Any) -> TaskType:
    """The task family `name`; `options` (dataset.task_options) go to its constructor."""
    if name in ("classification", "pair_classification"):
        from xlt.tasks.classification import Classification

        return Classification(pair=name == "pair_classification", **options)
    if name == "tagging":
        from xlt.tasks.tagging import Tagging

        return Tagging(**options)
    if name == "qa":
        from xlt.tasks.qa import ExtractiveQA

        return ExtractiveQA(**options)
    raise ConfigError(
        f"dataset.task={name!r} is not a task family; use classification, pair_classification, "
        "tagging or qa."
    )


def check_task_data(task: TaskType, data, dataset_name: str) -> None:
    """The loaded rows have the columns the task needs (a config naming the wrong task fails
    here, not deep inside tokenisation)."""
    for split, ds in data.splits.items():
        missing = [c for c in ("id", "lang", *task.columns) if c not in ds.column_names]
        if missing:
            raise ConfigError(
                f"dataset {dataset_name!r} ({split}) lacks {missing} for dataset.task="
                f"{task.name}; it has {ds.column_names}. Is dataset.task right?"
            )


def check_strategy_task(strategy, task: TaskType, augmentation) -> None:
    supported = strategy.supported_tasks()
    if task.name not in supported:
        raise ConfigError(
            f"strategy {strategy.name!r} works on {list(supported)} tasks, not {task.name!r} "
            "(use zero_shot, linear_probe, freeze_lower, lang_adapters or multitask)."
        )
    if task.name != "classification" and type(augmentation).__name__ != "NoAugmentation":
        raise ConfigError(
            f"augmentation rewrites single sentences; {task.name} data needs augmentation=none."
        )
