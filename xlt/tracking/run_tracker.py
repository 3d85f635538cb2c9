"""One training job's MLflow run: tags, params, manifest and files, nested under its sweep's
parent run when it is a trial. Only rank 0 writes (multi-device training)."""

from __future__ import annotations

import csv
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_only
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from omegaconf import DictConfig, OmegaConf

from xlt.tracking.manifest import mask_secrets
from xlt.tracking.resilient_logger import ResilientMLFlowLogger, fail_fast_http
from xlt.tracking.store import check_tracking_store, experiment_id
from xlt.tracking.sweep import parent_of_current_job


def artifact_location(cfg: DictConfig) -> str | None:
    """Local artifacts sit beside a local store; a tracking server keeps its own (proxied)."""
    return cfg.logger.artifact_location if cfg.logger.tracking_uri.startswith("sqlite") else None


class RunTracker:
    def __init__(
        self, cfg: DictConfig, tags: dict[str, str], out_dir: Path, run_id: str | None = None
    ) -> None:
        self.uri = cfg.logger.tracking_uri
        self.out_dir = out_dir
        self.client = check_tracking_store(self.uri)  # fails here, before the model loads
        parent = parent_of_current_job()
        tags = mask_secrets({**tags, **cfg.logger.tags})
        if parent:  # a sweep's trials go to the parent's experiment, so the UI nests them
            experiment = self.client.get_experiment(parent["experiment_id"]).name
            tags[MLFLOW_PARENT_RUN_ID] = parent["run_id"]
        else:
            experiment = cfg.logger.experiment_name
            experiment_id(self.client, experiment, artifact_location(cfg))
        fail_fast_http()
        self.logger = ResilientMLFlowLogger(  # the run itself is created lazily, on first use
            experiment_name=experiment,
            run_name=cfg.logger.run_name or f"{tags['strategy']}-{cfg.model.name}-seed{cfg.seed}",
            tracking_uri=self.uri,
            tags=tags,
            log_model=False,
            run_id=run_id,  # resuming: the same run, its metric history continues
            spool=out_dir / "metrics.jsonl",
        )

    @property
    def run_id(self) -> str | None:
        return self.logger.run_id

    @rank_zero_only
    def start(self, cfg: DictConfig, manifest: dict[str, Any]) -> None:
        """Params (the flattened config) and the files that let anyone rerun this job."""
        self.logger.log_hyperparams(manifest["config"])
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "mlflow_run_id").write_text(self.run_id)  # resume=auto finds it
        self.logger.experiment.set_tag(self.run_id, "output_dir", str(self.out_dir.resolve()))
        self.logger.experiment.set_tag(self.run_id, "git_dirty", str(manifest["git"]["dirty"]))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.log_text("config.yaml", OmegaConf.to_yaml(manifest["config"]))
        self.log_text("overrides.yaml", OmegaConf.to_yaml(manifest["overrides"]))
        self.log_text("manifest.json", json.dumps(manifest, indent=2, default=str))

    @rank_zero_only
    def set_tags(self, tags: dict[str, str]) -> None:
        run_id = self.run_id
        for key, value in tags.items():
            self.logger.call(lambda k=key, v=value: self.logger.experiment.set_tag(run_id, k, v))

    @rank_zero_only
    def log_text(self, name: str, text: str) -> None:
        (self.out_dir / name).write_text(text)
        self.log_file(self.out_dir / name)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.logger.log_metrics(metrics, step=step)

    @rank_zero_only
    def log_file(self, path: Path) -> None:
        run_id = self.run_id
        self.logger.call(lambda: self.logger.experiment.log_artifact(run_id, str(path)))

    @rank_zero_only
    def log_table(self, name: str, rows: list[dict[str, Any]]) -> None:
        path = self.out_dir / name
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        self.log_file(path)

    @rank_zero_only
    def finish(self) -> None:
        self.logger.finalize("success")

    @rank_zero_only
    def fail(self, err: BaseException) -> None:
        """Record the error on the run (creating it if needed) and mark it FAILED."""
        try:
            client, run_id = self.logger.experiment, self.run_id
            client.set_tag(run_id, "error", f"{type(err).__name__}: {err}"[:5000])
            self.log_text("error.txt", "".join(traceback.format_exception(err)))
            client.set_terminated(run_id, "FAILED")
        except Exception as log_err:  # the store itself may be the problem
            print(f"xlt: could not record the failure in MLflow: {log_err}", file=sys.stderr)

    def ui_command(self) -> str:
        """The command that serves this store's UI on loopback, and where this run is in it."""
        from xlt.tracking.ui import ui_command

        serve = " ".join(ui_command(self.uri, "127.0.0.1", 5000))
        exp, run = self.logger.experiment_id, self.run_id
        return f"{serve}\n  then open http://127.0.0.1:5000/#/experiments/{exp}/runs/{run}"
