"""Ask Optuna for a batch of trials, launch them with the configured launcher, tell the results."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
)
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.xlt_optuna_sweeper.config import XltOptunaSweeperConf  # noqa: F401

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, override: Override) -> Any:
    """A value for one parameter, drawn by Optuna from the override's sweep expression."""
    name, sweep = override.get_key_element(), override.value()
    if isinstance(sweep, ChoiceSweep):
        choices = [v if isinstance(v, bool | int | float | str) else str(v) for v in sweep.list]
        return trial.suggest_categorical(name, choices)
    if isinstance(sweep, RangeSweep):
        return trial.suggest_int(name, int(sweep.start), int(sweep.stop) - 1, step=int(sweep.step))
    if isinstance(sweep, IntervalSweep):
        log_scale = "log" in sweep.tags
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return trial.suggest_int(name, sweep.start, sweep.end, log=log_scale)
        return trial.suggest_float(name, float(sweep.start), float(sweep.end), log=log_scale)
    raise ValueError(f"{name}: unsupported sweep {override.input_line!r}")


class XltOptunaSweeper(Sweeper):
    def __init__(self, **options: Any) -> None:
        options.pop("_target_", None)
        self.options = options
        self.launcher = None
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def _space(self, arguments: list[str]) -> tuple[list[Override], list[str]]:
        parser = OverridesParser.create()
        declared = [f"{k}={v}" for k, v in (self.options.get("params") or {}).items()]
        searched, fixed = [], []
        for override in parser.parse_overrides([*declared, *arguments]):
            if override.is_sweep_override():
                searched.append(override)
            else:
                fixed.append(override.input_line)
        return searched, fixed

    def sweep(self, arguments: list[str]) -> None:
        searched, fixed = self._space(arguments)
        o = self.options
        study = optuna.create_study(
            direction=o.get("direction", "maximize"),
            storage=o.get("storage"),
            study_name=o.get("study_name"),
            load_if_exists=True,
        )
        done = len([t for t in study.trials if t.state.is_finished()])
        # A resumed study must not replay the first session's draws: offset the seed by its size.
        seed = None if o.get("seed") is None else int(o["seed"]) + done
        study.sampler = (
            optuna.samplers.RandomSampler(seed=seed)
            if o.get("sampler") == "random"
            else optuna.samplers.TPESampler(seed=seed)
        )
        remaining = max(0, int(o.get("n_trials", 10)) - done)
        log.info("Optuna study %s: %d trials done, %d to run", study.study_name, done, remaining)
        while remaining > 0:
            trials = [study.ask() for _ in range(min(int(o.get("n_jobs", 1)), remaining))]
            batch = [
                tuple(fixed + [f"{ov.get_key_element()}={suggest(t, ov)}" for ov in searched])
                for t in trials
            ]
            returns = self.launcher.launch(batch, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            for trial, ret in zip(trials, returns, strict=True):
                value = None
                try:
                    value = ret.return_value  # raises if the job raised
                except Exception as err:  # noqa: BLE001 - a failed trial must not end the study
                    log.warning("trial %d failed: %s", trial.number, err)
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, float(value))
            remaining -= len(trials)
        self._write_results(study)

    def _write_results(self, study: optuna.Study) -> None:
        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        results: dict[str, Any] = {"study": study.study_name, "n_trials": len(study.trials)}
        if completed:
            results.update(best_value=study.best_value, best_params=study.best_params)
            log.info("best %s with %s", study.best_value, study.best_params)
        out = Path(self.config.hydra.sweep.dir) / "optimization_results.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), out)
