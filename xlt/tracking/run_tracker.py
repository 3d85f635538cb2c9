"""One training job's MLflow run: tags, params, manifest and files, nested under its sweep's
parent run when it is a trial. Only rank 0 writes (multi-device training), through the MLflow
writer process (xlt/tracking/service.py): this process never imports MLflow on the way to the
first training step."""

from __future__ import annotations

import csv
import json
import logging
import sys
import traceback
from functools import cached_property
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf

from xlt.config.schema import LoggerConfig
from xlt.errors import TrackingError
from xlt.tracking.manifest import mask_secrets
from xlt.tracking.service_client import TrackingService, forget, tracking_service
from xlt.tracking.service_logger import ServiceLogger
from xlt.tracking.store import check_tracking_store, default_tracking_uri
from xlt.tracking.sweep import parent_of_current_job
from xlt.training.stop_signals import deferred

log = logging.getLogger(__name__)
PARENT_RUN_TAG = "mlflow.parentRunId"  # mlflow.utils.mlflow_tags.MLFLOW_PARENT_RUN_ID


def artifact_location(settings: LoggerConfig) -> str | None:
    """Local artifacts sit beside a local store; a tracking server keeps its own (proxied)."""
    return settings.artifact_location if settings.tracking_uri.startswith("sqlite") else None


class RunTracker:
    """`settings`: the run's `logger` section; `run_name` when it sets none; `run_id`: the run
    to continue (resuming)."""

    def __init__(
        self,
        settings: LoggerConfig,
        tags: dict[str, str],
        out_dir: Path,
        run_name: str,
        run_id: str | None = None,
    ) -> None:
        self.settings, self.tags, self.run_name, self.resumed_id = settings, tags, run_name, run_id
        self.uri = settings.tracking_uri
        self.out_dir = out_dir
        self.service: TrackingService | None = None
        self.logger: ServiceLogger | None = None

    def open(self) -> None:
        """Opens the store and starts (or, resuming, continues) the run. Called inside the
        caller's `try`, so that whatever stops the job from here on marks the run FAILED."""
        spool = self.out_dir / "metrics.jsonl"
        if rank_zero_only.rank != 0:  # other ranks train, rank 0 alone writes the run
            self.logger = ServiceLogger(None, {}, spool)
            return
        self.service = tracking_service(self.uri)  # usually started when xlt-train launched
        try:
            self.service.open()  # a bad URI fails here, before the model loads
        except TrackingError:
            forget(self.uri)
            raise
        with deferred():  # a stop signal now would leave a run that nothing can mark FAILED
            run = self.service.request("start_run", **self._run_request(spool))
            self.logger = ServiceLogger(self.service, run, spool)
        if self.resumed_id:  # resuming: the steps redone after the checkpoint were logged already
            self.logger.resume_logging()

    def _run_request(self, spool: Path) -> dict[str, Any]:
        settings = self.settings
        parent = parent_of_current_job()
        tags = mask_secrets({**self.tags, **settings.tags})
        if parent:  # a sweep's trials go to the parent's experiment, so the UI nests them
            tags[PARENT_RUN_TAG] = parent["run_id"]
        return dict(
            experiment=settings.experiment_name,
            experiment_id=parent["experiment_id"] if parent else None,
            artifact_location=artifact_location(settings),
            run_name=settings.run_name or self.run_name,
            tags=tags,
            run_id=self.resumed_id,  # resuming: the same run, its metric history continues
            spool=str(spool),
            source=Path(sys.argv[0]).name,
            log_user=settings.log_user,
            system_metrics=settings.system_metrics,
        )

    @property
    def run_id(self) -> str | None:
        return self.logger.run_id if self.logger else None

    @cached_property
    def client(self):  # noqa: ANN201  (mlflow.MlflowClient, imported only on this path)
        """An in-process client, for the few steps that read the store (init_encoder=RUN_ID,
        sequential strategies): they pay MLflow's import, the default path does not."""

        return check_tracking_store(self.uri)

    @rank_zero_only
    def start(self, manifest: dict[str, Any]) -> None:
        """Params (the flattened config) and the files that let anyone rerun this job."""
        self.logger.log_hyperparams(manifest["config"])
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "mlflow_run_id").write_text(self.run_id)  # resume=auto finds it
        self.set_tags(
            {"output_dir": str(self.out_dir.resolve()), "git_dirty": str(manifest["git"]["dirty"])}
        )
        self.log_text("config.yaml", OmegaConf.to_yaml(manifest["config"]))
        self.log_text("overrides.yaml", OmegaConf.to_yaml(manifest["overrides"]))
        self.log_text("manifest.json", json.dumps(manifest, indent=2, default=str))

    @rank_zero_only
    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.logger.send("set_tag", key=key, value=str(value))

    @rank_zero_only
    def log_text(self, name: str, text: str) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / name).write_text(text)
        self.log_file(self.out_dir / name)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.logger.log_metrics(metrics, step=step)

    @rank_zero_only
    def log_inputs(self, datasets: list[dict[str, str]]) -> None:
        if datasets:
            self.logger.send("log_inputs", datasets=datasets)

    @rank_zero_only
    def log_file(self, path: Path) -> None:
        self.logger.send("log_artifact", path=str(path))

    @rank_zero_only
    def log_folder(self, folder: Path, artifact_path: str) -> None:
        """A folder's files under `artifact_path` in the run's artifacts."""
        self.logger.send("log_artifacts", path=str(folder), artifact_path=artifact_path)

    @rank_zero_only
    def log_table(self, name: str, rows: list[dict[str, Any]]) -> None:
        path = self.out_dir / name
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        self.log_file(path)

    @rank_zero_only
    def log_model(self, folder: Path, tags: dict[str, str]) -> str | None:
        """The model folder as this run's MLflow model (the writer logs it); its URI."""
        if self.service is None or self.run_id is None:
            return None
        return self.service.request("log_model", timeout=900, run_id=self.run_id,
                                    folder=str(folder), tags=tags)  # fmt: skip

    @rank_zero_only
    def finish(self) -> None:
        self.logger.send("stop_system_metrics")
        self.logger.terminate("success")
        self._wait_until_sent()

    @rank_zero_only
    def fail(self, err: BaseException) -> None:
        """Record the error on the run and mark it FAILED."""
        if self.service is None or self.run_id is None:
            return  # the store never opened: the error itself says so
        self.logger.send("stop_system_metrics")
        self.set_tags({"error": f"{type(err).__name__}: {err}"[:5000]})
        self.log_text("error.txt", "".join(traceback.format_exception(err)))
        self.logger.terminate("failed")
        self._wait_until_sent()

    @rank_zero_only
    def requeued(self, step: int, signal_name: str) -> None:
        """SLURM requeued the job: the run waits for its next attempt (MLflow's SCHEDULED)."""
        if self.service is None or self.run_id is None:
            return
        self.logger.send("stop_system_metrics")
        self.set_tags({"requeued_at_step": str(step), "requeued_on_signal": signal_name})
        self.logger.terminate("scheduled")
        self._wait_until_sent()

    def _wait_until_sent(self) -> None:
        """The writer sends its queue now (a server that came back gets everything); if that
        cannot be confirmed, the run's results stand and the spooled metrics are named."""
        try:
            left = self.service.request("drain", timeout=300)
        except TrackingError as err:
            left = f"unknown ({err})"
        if left:
            log.error(
                "MLflow store still unreachable at the end: %s call(s) not sent; every metric is "
                "in %s", left, self.logger.spool,
            )  # fmt: skip

    def ui_command(self) -> str:
        """The command that serves this store's UI on loopback, and where this run is in it:
        `make ui` in a checkout (the Makefile's target), else xlt's own `xlt-ui`."""

        in_checkout = "\nui:" in _read(Path.cwd() / "Makefile")
        if in_checkout and self.uri == default_tracking_uri():
            serve = "make ui"
        elif in_checkout:
            serve = f'make ui ARGS="--tracking-uri {self.uri}"'
        else:
            serve = f"{Path(sys.executable).parent / 'xlt-ui'} --tracking-uri {self.uri}"
        exp, run = self.logger.experiment_id, self.run_id
        return f"{serve}\n  then open http://127.0.0.1:5000/#/experiments/{exp}/runs/{run}"


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""
