"""Config sections as their schema's dataclasses (xlt/config/schema.py): what the entry points
and `build` hand to everything below them, so that nothing below reads the DictConfig."""

from __future__ import annotations

from typing import Any, TypeVar

from omegaconf import OmegaConf

T = TypeVar("T")


def typed(node: Any, schema: type[T]) -> T:
    """`node` (a config section) as a `schema` instance: resolved, checked against the schema
    (an unknown key or a wrong type fails here), detached from the config."""
    values = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))


def plain(node: Any) -> Any:
    """A config value as plain Python data (dicts, lists, strings; interpolations resolved)."""
    if OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    return node
