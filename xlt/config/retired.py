"""Option names that were renamed: composing one fails in one line that names its successor."""

from __future__ import annotations

from xlt.errors import ConfigError

RETIRED_TARGET = "xlt.config.retired.Retired"
# group -> old option -> new option: old MLflow runs keep working in reports and reruns.
RENAMED = {"strategy": {"lang_adapters": "task_adapter"}}


class Retired:
    def __init__(self, message: str) -> None:
        raise ConfigError(" ".join(message.split()))


def check_retired(target: str, message: str) -> None:
    if target == RETIRED_TARGET:
        raise ConfigError(" ".join(str(message).split()))


def renamed(group: str, option: str) -> str:
    return RENAMED.get(group, {}).get(option, option)


def rename_override(override: str) -> str:
    """`strategy=lang_adapters` -> `strategy=task_adapter`; other overrides as they are."""
    key, sep, value = override.partition("=")
    return f"{key}{sep}{renamed(key.lstrip('+~'), value)}" if sep else override
