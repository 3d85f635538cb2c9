"""Allowed ranges of numeric config values, declared once beside the field: in the schema
dataclasses as `field(metadata=R(...))`, on the classes a `_target_` builds as
`Annotated[float, Range(...)]` parameters, and in `EXTERNAL` for library classes xlt does not
own. `check_config` walks a composed config and refuses, in one line naming the key, the value
and the range, any value out of range and any key the target does not take."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Iterator
from functools import cache
from typing import Any

from omegaconf import DictConfig, ValueNode

from xlt.config.bounds import Range
from xlt.config.retired import check_retired
from xlt.config.schema import TrainConfig
from xlt.errors import ConfigError
from xlt.tasks import FAMILIES

POSITIVE = Range(gt=0)
FRACTION = Range(ge=0, le=1)
# Library callables configured by `_target_` (their own signatures carry no ranges).
EXTERNAL: dict[str, dict[str, Range]] = {
    "torch.optim.AdamW": {"lr": Range(gt=0, doc="peak learning rate"),
                          "weight_decay": Range(ge=0), "eps": Range(gt=0)},
    "torch.optim.SGD": {"lr": Range(gt=0), "momentum": Range(ge=0), "weight_decay": Range(ge=0)},
    "torch.optim.LBFGS": {"lr": Range(gt=0), "max_iter": Range(ge=1), "history_size": Range(ge=1),
                          "tolerance_grad": Range(ge=0), "tolerance_change": Range(ge=0)},
}  # fmt: skip
SKIP = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}


def import_target(target: str):
    """The class or function a `_target_` names; one line when it names none."""
    module, _, name = str(target).rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError, TypeError) as err:
        raise ConfigError(f"_target_={target!r}: not an importable class or function "
                          f"(module.Name; {type(err).__name__})") from None  # fmt: skip
    if not callable(obj):
        raise ConfigError(f"_target_={target!r}: not a class or function")
    return obj


@cache
def target_parameters(target: str) -> tuple[dict[str, Range], set[str] | None]:
    """(ranges, accepted keys or None when it takes **kwargs) of a `_target_` callable."""
    obj = import_target(target)
    init = obj.__init__ if inspect.isclass(obj) else obj
    signature = inspect.signature(init)
    accepted = None if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()) else {
        p for p in signature.parameters if p != "self"}  # fmt: skip
    try:
        hints = typing.get_type_hints(init, include_extras=True)
    except Exception:  # library code with unresolvable annotations
        hints = {}
    ranges = {key: meta for key, hint in hints.items()
              for meta in getattr(hint, "__metadata__", ()) if isinstance(meta, Range)}  # fmt: skip
    ranges.update(EXTERNAL.get(target, {}))
    return ranges, accepted


@cache
def target_sections(target: str) -> dict[str, type]:
    """Parameters of a `_target_` typed by a dataclass (a nested section, e.g. MAD-X's `mlm`):
    their keys and ranges are checked against that dataclass."""
    obj = import_target(target)
    try:
        hints = typing.get_type_hints(obj.__init__ if inspect.isclass(obj) else obj)
    except Exception:  # library code with unresolvable annotations
        return {}
    return {key: member for key, hint in hints.items()
            for member in (typing.get_args(hint) or (hint,))
            if dataclasses.is_dataclass(member)}  # fmt: skip


def schema_ranges(schema: type) -> dict[str, Range]:
    """`field(metadata=R(...))` and `Annotated[..., Range(...)]` fields of a dataclass."""
    ranges = {f.name: f.metadata["range"] for f in dataclasses.fields(schema)
              if "range" in f.metadata}  # fmt: skip
    for key, hint in typing.get_type_hints(schema, include_extras=True).items():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, Range):
                ranges[key] = meta
    return ranges


def _unknown_target_keys(node: DictConfig, where: str) -> None:
    check_retired(str(node._target_), node.get("message", ""))  # a renamed option: say so
    try:
        _, accepted = target_parameters(str(node._target_))
    except ConfigError as err:
        raise ConfigError(f"{where}.{err}") from None
    for key in map(str, node):
        if key not in SKIP and accepted is not None and key not in accepted:
            raise ConfigError(
                f"{where}.{key}: unknown key for {node._target_}; it takes {sorted(accepted)}"
            )


def _unknown_schema_keys(node: DictConfig, where: str, schema: type) -> None:
    fields = {f.name for f in dataclasses.fields(schema)}
    for key in map(str, node):
        if key not in fields and key not in SKIP:
            prefix = f"{where}." if where else ""
            raise ConfigError(
                f"{prefix}{key}: unknown key (a misspelt `+{prefix}{key}=...`?); "
                f"known: {sorted(fields)}"
            )


def children(node: DictConfig) -> list[tuple[str, DictConfig]]:
    """The set sub-configs of a node (values are not resolved: paths may need Hydra)."""
    out = []
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            out.append((str(key), child))
    return out


def numeric_leaves(
    node: DictConfig, where: str = "", schema: Any = None
) -> Iterator[tuple[str, Any, Range | None]]:
    """(key, value, declared range or None) of every number in the config, checking on the way
    that every key is known to its schema or `_target_`."""
    schema = TrainConfig if not where and schema is None else schema
    if dataclasses.is_dataclass(schema):
        _unknown_schema_keys(node, where, schema)
        ranges, hints = schema_ranges(schema), typing.get_type_hints(schema)
    elif "_target_" in node:
        _unknown_target_keys(node, where)
        target = str(node._target_)
        ranges, hints = target_parameters(target)[0], target_sections(target)
    else:
        ranges, hints = {}, {}
    for key in map(str, node):
        child = node._get_node(key)
        path = f"{where}.{key}" if where else key
        if isinstance(child, DictConfig) and path == "dataset.task_options":
            yield from _task_options(child, str(node.task))
        elif isinstance(child, DictConfig):
            if not child._is_missing() and not child._is_none():
                yield from numeric_leaves(child, path, hints.get(key))
        elif isinstance(child, ValueNode) and not child._is_missing():
            value = child._value()
            if isinstance(value, int | float) and not isinstance(value, bool) or key in ranges:
                if isinstance(value, str) and "${" in value:
                    value = node[key]  # an interpolated number: resolve it
                if isinstance(value, int | float) and not isinstance(value, bool):
                    yield path, value, ranges.get(key)


def _task_options(node: DictConfig, task: str) -> Iterator[tuple[str, Any, Range | None]]:
    """dataset.task_options are the task family's constructor arguments."""
    if task not in FAMILIES:
        raise ConfigError(f"dataset.task={task!r} is not a task family; use {', '.join(FAMILIES)}.")
    yield from numeric_leaves(
        DictConfig({"_target_": FAMILIES[task], **node}), "dataset.task_options"
    )


def check_config(cfg: DictConfig) -> None:
    """Every key known and every number within its declared range."""
    for key, value, declared in numeric_leaves(cfg):
        if declared is not None:
            declared.check(key, value)
