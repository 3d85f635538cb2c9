"""`hydra/sweeper=xlt_arms`: its options, registered with Hydra's ConfigStore.

No `from __future__ import annotations`: Hydra executes plugin modules outside sys.modules,
where dataclasses cannot resolve string annotations.
"""

from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore


@dataclass
class XltArmsSweeperConf:
    _target_: str = "hydra_plugins.xlt_arms_sweeper.sweeper.XltArmsSweeper"
    max_batch_size: Optional[int] = None  # noqa: UP045 (Hydra loads plugins outside sys.modules)
    # The grid, in Hydra's sweep syntax (as the basic sweeper's params): every combination.
    params: dict[str, str] = field(default_factory=dict)
    # Extra configurations, each a space-separated list of overrides, e.g.
    # "strategy=zero_shot augmentation=code_switch": each is crossed with the grid's axes it
    # does not set (the seeds), after the grid's own jobs.
    arms: list[str] = field(default_factory=list)


ConfigStore.instance().store(
    group="hydra/sweeper", name="xlt_arms", node=XltArmsSweeperConf, provider="xlt"
)
