"""Composition problems of an `xlt-train` command line said in one line (exit 2), before Hydra
would print its own 6-18 lines: an option that does not exist (with the closest names), an
override Hydra cannot parse, a value of the wrong shape (a dict where a list belongs)."""

from __future__ import annotations

import difflib

from hydra.core.override_parser.overrides_parser import OverridesParser

from xlt.config.options import group_options
from xlt.config.paths import CONF_DIR, CONFIG_DIR

# Hydra's command-line flags that take a value (their value is not an override).
VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--info", "-i", "--experimental-rerun"}
OWN_CONFIG_FLAGS = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"}


def overrides_of(argv: list[str]) -> list[str] | None:
    """The overrides among `argv` (None with another config folder or name: not checked)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg.split("=")[0] in OWN_CONFIG_FLAGS:
            return None
        elif arg in VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def is_xlt_group(name: str) -> bool:
    """A config group of xlt's conf/ (Hydra's own groups list plugins xlt cannot see)."""
    return not name.startswith("hydra") and (CONF_DIR / name).is_dir()


def unknown_option(group: str, values: list[str]) -> str | None:
    """`group=value` for a value the group does not have, with the closest names."""
    options = group_options(group)
    if not options:
        return None
    for value in values:
        retired = (CONF_DIR / group / f"{value}.yaml").is_file()  # says its new name itself
        if value not in options and not retired:
            close = difflib.get_close_matches(value, options, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            return (f"{group}={value}: no such option; {hint}"
                    f"{group} has: {', '.join(options)}")  # fmt: skip
    return None


def composition_problem(argv: list[str]) -> str | None:
    """One line naming the first problem of the command line, or None (then Hydra runs)."""
    from hydra.errors import HydraException, OverrideParseException

    overrides = overrides_of(argv)
    if overrides is None:
        return None
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as err:
        return f"cannot read the override: {str(err).splitlines()[0]}"
    single = []
    for override in parsed:
        values = sweep_values(override)
        if not values:  # an interval for a sweeper to sample: nothing to compose
            continue
        group = override.key_or_group
        known = not is_xlt_group(group) or override.is_delete()
        if not known and (problem := unknown_option(group, values)):
            return problem
        prefix = override.get_key_element()
        single.append(f"{prefix}={values[0]}" if not override.is_delete() else prefix)
    try:
        compose_quietly(single)
    except HydraException as err:
        return shape_problem(err)
    except Exception as err:  # omegaconf's validation errors
        return shape_problem(err)
    return None


def sweep_values(override) -> list[str]:
    """An override's values as strings: one, a sweep's choices, none for an interval."""
    from hydra.errors import HydraException

    if override.is_delete():
        return [""]
    if not override.is_sweep_override():
        return [override.get_value_element_as_str()]
    try:
        return list(override.sweep_string_iterator())
    except HydraException:
        return []


def compose_quietly(overrides: list[str]) -> None:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        compose(config_name="train", overrides=overrides)


def shape_problem(err: BaseException) -> str:
    """The first line of the error and of its cause: key, value and what was expected."""
    lines = [str(err).strip().splitlines()[0]]
    cause = err.__cause__
    if cause is not None and str(cause).strip():
        lines.append(str(cause).strip().splitlines()[0])
    return "; ".join(dict.fromkeys(lines))
