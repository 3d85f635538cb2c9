"""The basic sweeper's grid, then each arm crossed with the grid axes it leaves free: one
command runs every strategy x seed and, say, zero-shot with code-switching x seed, without
crossing the augmentation with every strategy."""

from __future__ import annotations

import itertools
import shlex

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override

from hydra_plugins.xlt_arms_sweeper.config import XltArmsSweeperConf  # noqa: F401


class XltArmsSweeper(BasicSweeper):
    def __init__(
        self, max_batch_size: int | None, params: dict[str, str] | None = None,
        arms: list[str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.arms = [shlex.split(arm) for arm in (arms or [])]

    def split_arguments(
        self, overrides: list[Override], max_batch_size: int | None
    ) -> list[list[list[str]]]:
        (grid,) = BasicSweeper.split_arguments(overrides, None)
        jobs = [*grid, *itertools.chain.from_iterable(
            arm_jobs(overrides, arm) for arm in self.arms)]  # fmt: skip
        if max_batch_size is None:
            return [jobs]
        return list(BasicSweeper.split_overrides_to_chunks(jobs, max_batch_size))


def arm_jobs(overrides: list[Override], arm: list[str]) -> list[list[str]]:
    """The arm's overrides in place of the grid's for the keys it sets; every other axis of the
    grid (and every fixed override) as it is."""
    parsed = OverridesParser.create().parse_overrides(arm)
    if any(o.is_sweep_override() for o in parsed):
        raise ValueError(f"hydra.sweeper.arms: {' '.join(arm)!r} sweeps; an arm is one "
                         "configuration (the grid's other axes cross it)")  # fmt: skip
    own = {o.get_key_element() for o in parsed}
    rest = [o for o in overrides if o.get_key_element() not in own]
    (jobs,) = BasicSweeper.split_arguments([*rest, *parsed], None)
    return jobs
