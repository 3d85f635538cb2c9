"""Task families, one file each (jiant-style): what a row holds, how it is tokenised, which
head sits on the encoder, its loss and its metrics. `dataset.task` picks one by name."""

from __future__ import annotations

from typing import Any

from xlt.errors import ConfigError
from xlt.tasks.base import TaskFamily

CLASSIFICATION = ("classification", "pair_classification")
ALL_TASKS = (*CLASSIFICATION, "tagging", "qa")


def get_task(name: str, **options: Any) -> TaskFamily:
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


def check_task_data(task: TaskFamily, data, dataset_name: str) -> None:
    """The loaded rows have the columns the task needs (a config naming the wrong task fails
    here, not deep inside tokenisation)."""
    for split, ds in data.splits.items():
        missing = [c for c in ("id", "lang", *task.columns) if c not in ds.column_names]
        if missing:
            raise ConfigError(
                f"dataset {dataset_name!r} ({split}) lacks {missing} for dataset.task="
                f"{task.name}; it has {ds.column_names}. Is dataset.task right?"
            )


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
    from xlt.config.options import group_classes

    return [name for name, cls in group_classes("strategy").items() if task in cls.tasks]
