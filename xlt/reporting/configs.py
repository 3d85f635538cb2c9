"""A run's configuration, as a report groups it: its overrides minus those that cannot change
the result, and minus those equal to the default (an override of the default is no change)."""

from __future__ import annotations

import shlex
from functools import cache
from typing import Any

import yaml

from xlt.config.paths import CONFIG_DIR
from xlt.config.retired import rename_override

# Overrides that do not change a result: where it runs, how it is logged, how it is resumed,
# the seed (a report's sample axis), and Hydra's own launcher and paths.
IGNORED_KEYS = ("seed", "torch_threads", "dataset.num_workers", "resume", "sweep_retry",
                "print_config", "trainer.enable_progress_bar")  # fmt: skip
IGNORED_PREFIXES = ("paths.", "logger.", "hydra.", "hydra/")


def parse_overrides(text: str) -> list[tuple[str, str]]:
    """`a.b=1 strategy=x` (the `job_overrides` tag) as [(key, value)], `+`/`~` dropped, and
    renamed options under their current names (old runs group with new ones)."""
    pairs = []
    for item in shlex.split(text or ""):
        key, _, value = rename_override(item).partition("=")
        pairs.append((key.lstrip("+~"), value))
    return pairs


def ignored(key: str) -> bool:
    return key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES)


def _value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


@cache
def _defaults(groups: tuple[tuple[str, str], ...]) -> tuple[dict, dict[str, str]]:
    """The composed config for these group choices, and the default group choices."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        base = compose(config_name="train", return_hydra_config=True)
        chosen = compose(config_name="train", overrides=[f"{k}={v}" for k, v in groups])
    choices = {str(k): str(v) for k, v in base.hydra.runtime.choices.items()}
    return OmegaConf.to_container(chosen, resolve=False), choices


def _lookup(config: dict, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return KeyError
        node = node[part]
    return node


def configuration(overrides: list[tuple[str, str]]) -> dict[str, str]:
    """Overrides that make this configuration differ from the default one."""
    kept = [(k, v) for k, v in overrides if not ignored(k)]
    groups = tuple(sorted((k, v) for k, v in kept if "." not in k))
    try:
        config, choices = _defaults(groups)
    except Exception:  # options since renamed or removed: keep every override as it is
        return dict(kept)
    out = {}
    for key, value in kept:
        if "." not in key:
            if choices.get(key) != value:
                out[key] = value
        elif _lookup(config, key) != _value(value):
            out[key] = value
    return out


def default_of(key: str, shared: dict[str, str] | None = None) -> str:
    """What a run that did not override `key` used, as the report names it: the default group
    option (`zero_shot (default)`) or value (`32 (default)`), composed with the group choices
    every run shares (`shared`: under strategy=adversarial, its own defaults)."""
    groups = tuple(sorted((k, v) for k, v in (shared or {}).items() if "." not in k))
    try:
        config, choices = _defaults(groups)
    except Exception:  # a config tree that no longer composes: say only that it is the default
        return "(default)"
    value = choices.get(key) if "." not in key else _lookup(config, key)
    if value is KeyError or value is None:
        return "(default)"
    return f"{value} (default)"


def label(config: dict[str, str]) -> str:
    """A configuration in one line, e.g. `strategy=few_shot strategy.k=4` (or `default`)."""
    return " ".join(f"{k}={v}" for k, v in sorted(config.items())) or "default"
