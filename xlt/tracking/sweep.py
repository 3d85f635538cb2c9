"""A Hydra multirun is one MLflow parent run with a nested child run per trial.

The callback opens the parent when the sweep starts and writes its id into the sweep folder,
where every trial finds it whatever the launcher (in-process, joblib workers, submitit jobs on
a cluster with a shared file system). At the end it counts the children and closes the parent,
FAILED if any trial failed.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from xlt.config.launcher import check_launcher
from xlt.errors import XltError
from xlt.tracking.manifest import mask_secrets
from xlt.tracking.store import check_tracking_store, experiment_id
from xlt.training import stop_signals

log = logging.getLogger(__name__)
PARENT_FILE = "mlflow_parent.json"


def parent_of_current_job() -> dict[str, str] | None:
    """{"run_id", "experiment_id", "tracking_uri"} of the sweep this job belongs to, if any."""
    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None
    path = Path(hc.sweep.dir) / PARENT_FILE
    return json.loads(path.read_text()) if path.exists() else None


def child_runs(client, parent: dict[str, str]) -> list[Any]:
    return client.search_runs(
        [parent["experiment_id"]],
        filter_string=f"tags.mlflow.parentRunId = '{parent['run_id']}'",
        max_results=10000,
    )


STUDY_TAG = "xlt.optuna_study"  # a persistent study's storage and name, on its parent run


def study_key(config: DictConfig) -> str | None:
    """A persistent Optuna study (`hydra.sweeper.storage` and `study_name`): resuming it
    continues the same MLflow parent run instead of opening a new, often empty, one."""

    sweeper = config.hydra.get("sweeper") or {}
    storage, name = sweeper.get("storage"), sweeper.get("study_name")
    return f"{mask_secrets(str(storage))}#{name}" if storage and name else None


def study_parent(client, experiment: str, key: str | None) -> str | None:
    if key is None:
        return None
    found = client.search_runs([experiment], filter_string=f"tags.`{STUDY_TAG}` = '{key}'",
                               order_by=["attributes.start_time DESC"], max_results=1)  # fmt: skip
    return found[0].info.run_id if found else None


def stop_parent(sweep_dir: str, signal_name: str) -> None:
    """A stop signal ended the sweep: its parent run FAILED with the signal named, now (not
    only in an exit handler, which a busy store can miss)."""

    path = Path(sweep_dir) / PARENT_FILE
    if not path.exists():
        return
    fail_parent(json.loads(path.read_text()), f"stopped by {signal_name}")


def fail_parent(parent: dict[str, str], why: str) -> None:
    """The sweep's parent run FAILED, with why in its `error` tag."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=parent["tracking_uri"])
    client.set_tag(parent["run_id"], "error", f"{why} before the sweep ended")
    client.set_terminated(parent["run_id"], "FAILED")


class MlflowSweepCallback(Callback):
    def __init__(self, report: bool = True) -> None:
        self.report = report
        self.ended = False

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Launcher and store checked first (one line, exit 2), then the parent run opened; a
        launcher that fails after that (sbatch refusing the jobs) leaves it FAILED, not RUNNING."""

        try:
            check_launcher(config)
            client = check_tracking_store(config.logger.tracking_uri)
        except XltError as err:
            print(f"xlt: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        parent = self._open_parent(config, client)
        atexit.register(self._fail_unless_ended, parent)
        if not os.environ.get("SLURM_JOB_ID"):  # in a SLURM job its requeue handling has them
            stop_signals.stop_sweep_on_signals()

    def _fail_unless_ended(self, parent: dict[str, str]) -> None:
        if self.ended:
            return
        received = stop_signals.received  # read now: the handler sets it when a signal arrives
        fail_parent(parent, f"stopped by {received.name}" if received else "the launcher stopped")

    def _open_parent(self, config: DictConfig, client) -> dict[str, str]:

        uri = config.logger.tracking_uri
        location = config.logger.artifact_location if uri.startswith("sqlite") else None
        exp = experiment_id(client, config.logger.experiment_name, location)
        sweep_dir = Path(config.hydra.sweep.dir)
        overrides = list(config.hydra.overrides.task)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        earlier = config.get("sweep_retry") or study_parent(client, exp, study_key(config))
        if earlier:  # the same parent: finished trials are skipped, see run()
            old = client.get_run(str(earlier))
            client.update_run(old.info.run_id, status="RUNNING")
            parent = {"run_id": old.info.run_id, "experiment_id": old.info.experiment_id,
                      "tracking_uri": uri}  # fmt: skip
            (sweep_dir / PARENT_FILE).write_text(json.dumps(parent))
            log.info("continuing sweep %s (its failed, missing or new trials)", old.info.run_id)
            return parent

        overrides = mask_secrets(overrides)
        run = client.create_run(
            exp,
            run_name=f"sweep-{sweep_dir.name}",
            tags={
                "xlt.sweep": "true",
                "sweep_dir": str(sweep_dir),
                "sweep": " ".join(overrides),
                **({STUDY_TAG: key} if (key := study_key(config)) else {}),
            },  # fmt: skip
        )
        parent = {"run_id": run.info.run_id, "experiment_id": exp, "tracking_uri": uri}
        (sweep_dir / PARENT_FILE).write_text(json.dumps(parent))
        # a key given twice counts once, with its last value (as Hydra applies it)
        params = dict(override.partition("=")[::2] for override in overrides)
        for key, value in params.items():
            client.log_param(run.info.run_id, f"sweep/{key.lstrip('+~')}", value[:6000])
        log.info("MLflow parent run %s for sweep %s", run.info.run_id, sweep_dir)
        return parent

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from mlflow import MlflowClient

        self.ended = True
        path = Path(config.hydra.sweep.dir) / PARENT_FILE
        if not path.exists():
            return
        parent = json.loads(path.read_text())
        client = MlflowClient(tracking_uri=parent["tracking_uri"])
        # A trial is its job overrides: after a retry it may have a FAILED and a FINISHED run.
        trials: dict[str, bool] = {}
        for run in child_runs(client, parent):
            key = run.data.tags.get("job_overrides", run.info.run_id)
            trials[key] = trials.get(key, False) or run.info.status == "FINISHED"
        # Jobs that died before their MLflow run existed still left their Hydra job folder.
        launched = len(list(Path(config.hydra.sweep.dir).glob("*/.hydra/config.yaml")))
        n_trials = max(launched, len(trials))
        n_failed = sum(not done for done in trials.values()) + n_trials - len(trials)
        client.log_metric(parent["run_id"], "sweep/n_trials", n_trials)
        client.log_metric(parent["run_id"], "sweep/n_failed", n_failed)
        if self.report and n_failed < n_trials:
            try:
                from xlt.reporting.report import report_on_parent

                report_on_parent(client, parent["run_id"])
            except Exception as err:  # a report problem must not lose the sweep's status
                log.warning("sweep report failed: %s", err)
        client.set_terminated(parent["run_id"], "FAILED" if n_failed else "FINISHED")
        summary = f"{n_trials} trials, {n_failed} failed"
        log.info(
            "sweep %s: %s (MLflow parent run %s)", config.hydra.sweep.dir, summary, parent["run_id"]
        )
        if n_failed:  # the sweep's exit status says so, after every trial has run and landed
            print(f"xlt: sweep finished with {n_failed} failed trial(s) of {n_trials}")
            raise SystemExit(1)
