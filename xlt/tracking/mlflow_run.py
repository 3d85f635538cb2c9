"""MLflow as the lab notebook: one run per training job, with the tags, params and files needed
to compare it with other runs and to rerun it."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig, OmegaConf

from xlt.errors import TrackingError


def check_tracking_store(uri: str) -> None:
    """Fail before any training when the store cannot be opened, naming the URI and the fix."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    elif uri.startswith("file:") or "://" not in uri:
        raise TrackingError(
            f"logger.tracking_uri={uri!r}: MLflow 3 refuses plain file stores; use "
            "sqlite:///ABSOLUTE/PATH.db or an http(s):// tracking server."
        )
    from mlflow import MlflowClient

    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as err:  # connection refused, bad URI, locked database...
        raise TrackingError(
            f"cannot open the MLflow store {uri!r} ({type(err).__name__}: {str(err)[:200]}). "
            "Start the server or fix logger.tracking_uri."
        ) from err


def git_commit(root: str | Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def make_logger(cfg: DictConfig, tags: dict[str, str]) -> MLFlowLogger:
    check_tracking_store(cfg.logger.tracking_uri)
    run_name = cfg.logger.run_name or f"{tags['strategy']}-{cfg.model.name}-seed{cfg.seed}"
    return MLFlowLogger(
        experiment_name=cfg.logger.experiment_name,
        run_name=run_name,
        tracking_uri=cfg.logger.tracking_uri,
        artifact_location=cfg.logger.artifact_location,
        tags={**tags, **cfg.logger.tags},
        log_model=False,
    )


def log_config(logger: MLFlowLogger, cfg: DictConfig, overrides: list[str], out_dir: Path) -> None:
    """Params (flattened config) plus the resolved config and the overrides as files."""
    container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    logger.log_hyperparams(container)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(OmegaConf.to_yaml(container))
    (out_dir / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides))
    for name in ("config.yaml", "overrides.yaml"):
        logger.experiment.log_artifact(logger.run_id, str(out_dir / name))


def log_text(logger: MLFlowLogger, out_dir: Path, name: str, text: str) -> None:
    (out_dir / name).write_text(text)
    logger.experiment.log_artifact(logger.run_id, str(out_dir / name))


def log_language_table(logger: MLFlowLogger, rows: list[dict[str, Any]], out_dir: Path) -> Path:
    path = out_dir / "metrics_per_language.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    logger.experiment.log_artifact(logger.run_id, str(path))
    return path


def ui_command(logger: MLFlowLogger, tracking_uri: str) -> str:
    """The command that serves this store's UI on loopback, and where this run is in it."""
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    exe = str(mlflow_bin) if mlflow_bin.exists() else "mlflow"
    url = f"http://127.0.0.1:5000/#/experiments/{logger.experiment_id}/runs/{logger.run_id}"
    serve = f"{exe} ui --backend-store-uri {tracking_uri} --host 127.0.0.1 --port 5000"
    return f"{serve}\n  then open {url}"
