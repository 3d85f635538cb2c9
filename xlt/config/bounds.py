"""A number's allowed interval, declared beside the field it bounds (a leaf module: the schema
dataclasses and every configurable class import it; `xlt.config.ranges` checks configs with it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xlt.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """A closed/open interval for a number; `also` lists extra allowed values (e.g. -1)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    also: tuple[float, ...] = ()
    doc: str = ""

    def contains(self, value: float) -> bool:
        if value in self.also:
            return True
        low = (self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
        return (
            low and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt)
        )

    def describe(self) -> str:
        parts = [f"{op} {bound:g}" for op, bound in ((">=", self.ge), (">", self.gt),
                                                     ("<=", self.le), ("<", self.lt))
                 if bound is not None]  # fmt: skip
        text = " and ".join(parts) or "any number"
        return text + (f" (or {', '.join(f'{a:g}' for a in self.also)})" if self.also else "")

    def check(self, key: str, value: Any) -> None:
        if value is None or isinstance(value, str):
            return  # null means "not set"; strings are the type checker's concern
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        if not self.contains(value):
            raise ConfigError(f"{key}={value}: out of range, must be {self.describe()}")


def R(**bounds: Any) -> dict[str, Range]:
    """Field metadata for the schema dataclasses: `field(default=..., metadata=R(ge=1))`."""
    return {"range": Range(**bounds)}
