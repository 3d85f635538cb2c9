"""Opening an MLflow store: checked up front, so a bad URI fails before any training."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from xlt.errors import TrackingError

if TYPE_CHECKING:  # MLflow's import costs ~1 s: training reaches the store through its writer
    from mlflow import MlflowClient


def default_tracking_uri() -> str:
    """The store `xlt-train` writes by default: outputs/mlflow.db under XLT_ROOT or here."""
    root = os.environ.get("XLT_ROOT", os.getcwd())
    return f"sqlite:///{Path(root).resolve()}/outputs/mlflow.db"


def check_tracking_store(uri: str) -> MlflowClient:
    """A client for `uri`, after one real request; a failure names the URI and the fix."""
    from xlt.tracking.service_client import fail_fast_env

    for key, value in fail_fast_env().items():  # a dead server answers in seconds, not minutes
        os.environ.setdefault(key, value)
    if uri.startswith("sqlite:///"):
        try:
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TrackingError(
                f"cannot open the MLflow store {uri!r}: its folder cannot be made ({err}). "
                "Fix logger.tracking_uri or XLT_ROOT."
            ) from err
    elif uri.startswith("file:") or "://" not in uri:
        raise TrackingError(
            f"logger.tracking_uri={uri!r}: MLflow 3 refuses plain file stores; use "
            "sqlite:///ABSOLUTE/PATH.db or an http(s):// tracking server."
        )
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as err:  # connection refused, bad URI, locked database...
        raise TrackingError(
            f"cannot open the MLflow store {uri!r} ({type(err).__name__}: {str(err)[:200]}). "
            "Start the server or fix logger.tracking_uri."
        ) from err
    return client


# MLflow 3's UI opens an experiment on its GenAI pages unless told it holds model training runs.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_id(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    """The id of experiment `name`, created (with artifacts beside the store) if missing."""
    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage != "deleted":
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location, tags=EXPERIMENT_KIND)
    except Exception:  # a parallel trial created it first
        return client.get_experiment_by_name(name).experiment_id
