"""The options of a config group, read from conf/<group>/*.yaml: error hints, README tables and
test matrices are made from these (and the classes' declarations), never from hand lists."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

import yaml

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def group_options(group: str) -> list[str]:
    """Option names of a config group, e.g. strategy -> [adversarial, few_shot, ...]; retired
    names (which only say what replaced them) are left out."""
    from xlt.config.retired import RETIRED_TARGET

    names = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
    return [n for n in names if option_target(group, n) != RETIRED_TARGET]


def option_target(group: str, name: str) -> str | None:
    """The `_target_` an option builds, following its defaults list within the group."""
    spec = yaml.safe_load((CONF_DIR / group / f"{name}.yaml").read_text()) or {}
    if "_target_" in spec:
        return str(spec["_target_"])
    for entry in spec.get("defaults", []):
        if (
            isinstance(entry, str)
            and entry != "_self_"
            and (CONF_DIR / group / f"{entry}.yaml").exists()
        ):
            return option_target(group, entry)
    return None


@cache
def group_classes(group: str) -> dict[str, type]:
    """Option name -> the class it instantiates (options without a class are left out)."""
    out = {}
    for name in group_options(group):
        target = option_target(group, name)
        if target:
            module, _, attr = target.rpartition(".")
            out[name] = getattr(importlib.import_module(module), attr)
    return out
