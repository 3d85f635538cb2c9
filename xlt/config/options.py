"""The options of a config group, read from conf/<group>/*.yaml: error hints, docs tables and
test matrices are made from these (and the classes' declarations), never from hand lists."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

import yaml

from xlt.config.paths import CONF_DIR
from xlt.config.ranges import schema_ranges, target_parameters, target_sections
from xlt.config.retired import RETIRED_TARGET


def option_file(group: str, name: str, dirs: tuple[Path, ...] = ()) -> Path | None:
    for conf in (*dirs, CONF_DIR):
        if (path := conf / group / f"{name}.yaml").is_file():
            return path
    return None


def group_options(group: str, dirs: tuple[Path, ...] = ()) -> list[str]:
    """Option names of a config group, e.g. strategy -> [adversarial, few_shot, ...], from
    conf/ and any extra config folders (Hydra search path); retired names are left out."""
    names = sorted({p.stem for conf in (*dirs, CONF_DIR) for p in (conf / group).glob("*.yaml")})
    return [n for n in names if option_target(group, n, dirs) != RETIRED_TARGET]


def option_target(group: str, name: str, dirs: tuple[Path, ...] = ()) -> str | None:
    """The `_target_` an option builds, following its defaults list within the group."""
    spec = yaml.safe_load(option_file(group, name, dirs).read_text()) or {}
    if "_target_" in spec:
        return str(spec["_target_"])
    for entry in spec.get("defaults", []):
        if isinstance(entry, str) and entry != "_self_" and option_file(group, entry, dirs):
            return option_target(group, entry, dirs)
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


def compose_option(group: str, name: str, dirs: tuple[Path, ...] = ()):
    """The config node an option composes to (with the default experiment around it)."""
    from hydra import compose, initialize_config_dir

    overrides = [f"{group}={name}"]
    if group == "augmentation/translator":
        overrides.insert(0, "augmentation=translate_train")
    if dirs:
        overrides.append("hydra.searchpath=[" + ",".join(f"file://{d}" for d in dirs) + "]")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    node = cfg
    for part in group.split("/"):
        node = node[part]
    return node


def settings(node) -> list[str]:
    """`key=value (range)` for the option's own scalar settings and its learning rate."""
    from omegaconf import DictConfig

    ranges = target_parameters(str(node._target_))[0]
    keys = [k for k in map(str, node) if not k.startswith("_")]
    out = [f"`{k}={shown(node, k)}`" + (f" ({ranges[k].describe()})" if k in ranges else "")
           for k in keys if not isinstance(node[k], DictConfig)]  # fmt: skip
    for section, schema in target_sections(str(node._target_)).items():  # e.g. MAD-X's mlm
        inner = schema_ranges(schema)
        out += [f"`{section}.{k}={v}`" + (f" ({inner[k].describe()})" if k in inner else "")
                for k, v in node[section].items()]  # fmt: skip
    if "optimizer" in node and "lr" in node.optimizer:
        out.append(f"`optimizer.lr={node.optimizer.lr}`")
    return out


def shown(node, key: str) -> str:
    """A setting as the config file writes it: an interpolation stays `${...}` (resolved, it
    would show this machine's paths)."""
    from omegaconf import OmegaConf

    if OmegaConf.is_interpolation(node, key):
        return str(node._get_node(key)._value())
    return str(node[key])


def summary_line(cls: type) -> str:
    """The class's docstring (its module's where it has none): what the option does."""
    doc = cls.__doc__ or importlib.import_module(cls.__module__).__doc__ or ""
    return " ".join(doc.split())


def options_table(group: str, dirs: tuple[Path, ...] = ()) -> str:
    """The docs' table of a group's options, generated from conf/ and the classes."""
    lines = ["| option | what it does | task families | settings (range) |", "|---|---|---|---|"]
    for name in group_options(group, dirs):
        target = option_target(group, name, dirs)
        module, _, attr = target.rpartition(".")
        cls = getattr(importlib.import_module(module), attr)
        tasks = ", ".join(getattr(cls, "tasks", ())) or "-"
        cells = [f"`{name}`", summary_line(cls), tasks, "<br>".join(settings(compose_option(
            group, name, dirs))) or "-"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# Where a group's option names the code that loads its weights or rows.
SOURCE_KEY = {"dataset": "loader", "model": "source"}


def hub_backed(group: str, name: str) -> bool:
    """Whether the option loads from the Hugging Face hub (so it fails fast offline): its source
    module defines `preflight` (hub datasets and models), or its class declares
    `downloads_from_hub` (translation models)."""
    node = compose_option(group, name)
    key = SOURCE_KEY.get(group.split("/")[0])
    spec = node.get(key) if key else node
    target = str((spec or {}).get("_target_") or "")
    if not target:
        return False
    module_name, _, attr = target.rpartition(".")
    module = importlib.import_module(module_name)
    built = getattr(module, attr, None)
    if isinstance(built, type):
        return bool(getattr(built, "downloads_from_hub", False))
    return hasattr(module, "preflight")
