"""`hydra/sweeper=xlt_optuna`: its options, registered with Hydra's ConfigStore.

No `from __future__ import annotations`: Hydra executes plugin modules outside sys.modules,
where dataclasses cannot resolve string annotations.
"""

from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore


@dataclass
class XltOptunaSweeperConf:
    _target_: str = "hydra_plugins.xlt_optuna_sweeper.sweeper.XltOptunaSweeper"
    direction: str = "maximize"  # the objective: what the task returns (source dev accuracy)
    n_trials: int = 10
    n_jobs: int = 1  # trials handed to the launcher at once (parallel with joblib/submitit)
    sampler: str = "tpe"  # tpe | random
    seed: Optional[int] = None  # noqa: UP045 (Hydra loads plugins outside sys.modules)
    # A database URL makes the study persistent: rerunning the same command resumes it.
    storage: Optional[str] = None  # noqa: UP045
    study_name: Optional[str] = None  # noqa: UP045
    # Search space, in Hydra's sweep syntax: choice(16,32), interval(0,1), tag(log, interval(..)),
    # range(1,5). Command-line sweep overrides are added to it.
    params: dict[str, str] = field(default_factory=dict)


ConfigStore.instance().store(
    group="hydra/sweeper", name="xlt_optuna", node=XltOptunaSweeperConf, provider="xlt"
)
