"""Task families, one file each (jiant-style): what a row holds, how it is tokenised, which
head sits on the encoder, its loss and its metrics. `dataset.task` picks one by name."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from xlt.errors import ConfigError

if TYPE_CHECKING:  # the families import torch; the registry stays light for config checks
    from xlt.tasks.base import TaskFamily

CLASSIFICATION = ("classification", "pair_classification")


# dataset.task -> the class of that family (a registry: a new family is one module and a line).
FAMILIES = {
    "classification": "xlt.tasks.classification.Classification",
    "pair_classification": "xlt.tasks.classification.Classification",
    "tagging": "xlt.tasks.tagging.Tagging",
    "qa": "xlt.tasks.qa.ExtractiveQA",
}
ALL_TASKS = tuple(FAMILIES)  # what "every task family" means, for declarations and test matrices


def family_class(name: str) -> type[TaskFamily]:
    if name not in FAMILIES:
        raise ConfigError(f"dataset.task={name!r} is not a task family; use {', '.join(FAMILIES)}.")
    module, _, attr = FAMILIES[name].rpartition(".")
    return getattr(importlib.import_module(module), attr)


def get_task(name: str, **options: Any) -> TaskFamily:
    """The task family `name`; `options` (dataset.task_options) go to its constructor."""
    cls = family_class(name)
    if name in CLASSIFICATION:
        options["pair"] = name == "pair_classification"
    return cls(**options)


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
