"""Opening an MLflow store: checked up front, so a bad URI fails before any training."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

from xlt.errors import ConfigError, TrackingError
from xlt.tracking.manifest import mask_value
from xlt.tracking.service_client import fail_fast_env

if TYPE_CHECKING:  # MLflow's import costs ~1 s: training reaches the store through its writer
    from mlflow import MlflowClient


MIN_FREE_BYTES = 64 * 2**20  # a run's metrics, tags and tables: far less; a full disk: none


def check_local_store_writable(uri: str) -> None:
    """A local (sqlite) store this process cannot write, said in one line before anything loads:
    a read-only folder or file system, a full disk, a lock another program holds. (MLflow's
    writer would otherwise fail minutes later, deep inside SQLAlchemy.)"""
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///"))
    fix = "make it writable for this user, or set logger.tracking_uri=sqlite:///WRITABLE/mlflow.db"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".xlt-write-probe-"):
            pass  # sqlite writes its journal beside the database
    except OSError as err:
        raise TrackingError(f"cannot write the MLflow store {uri!r}: its folder {path.parent} "
                            f"is not writable ({err.strerror}); {fix}") from err  # fmt: skip
    free = shutil.disk_usage(path.parent).free
    if free < MIN_FREE_BYTES:
        raise TrackingError(f"cannot write the MLflow store {uri!r}: {path.parent} has "
                            f"{free // 2**20} MB free; free some space or {fix}")  # fmt: skip
    if path.exists():
        probe_database_lock(path, uri, fix)


def probe_database_lock(path: Path, uri: str, fix: str) -> None:
    """Take (and give back) sqlite's write lock: a read-only file or a lock held elsewhere."""
    connection = None
    try:
        connection = sqlite3.connect(path, timeout=10)
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
    except sqlite3.Error as err:
        raise TrackingError(f"cannot write the MLflow store {uri!r} ({err}); "
                            f"{'wait for the other program or ' if 'locked' in str(err) else ''}"
                            f"{fix}") from err  # fmt: skip
    finally:
        if connection is not None:
            connection.close()


def default_tracking_uri() -> str:
    """The store `xlt-train` writes by default: outputs/mlflow.db under XLT_ROOT or here."""
    root = os.environ.get("XLT_ROOT", os.getcwd())
    return f"sqlite:///{Path(root).resolve()}/outputs/mlflow.db"


def check_tracking_store(uri: str) -> MlflowClient:
    """A client for `uri`, after one real request; a failure names the URI and the fix."""

    if uri.startswith("sqlite:///"):
        check_local_store_writable(uri)
    elif uri.startswith("file:") or "://" not in uri:
        raise TrackingError(
            f"logger.tracking_uri={uri!r}: MLflow 3 refuses plain file stores; use "
            "sqlite:///ABSOLUTE/PATH.db or an http(s):// tracking server."
        )
    elif "://" in uri and not uri.startswith(("http://", "https://", "databricks")):
        probe_database(uri)  # SQLAlchemy would retry a dead database for 105 s
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    try:
        # A dead server answers in seconds, not minutes; the environment is restored after.
        with mock.patch.dict(os.environ, fail_fast_env()):
            client.search_experiments(max_results=1)
    except Exception as err:  # connection refused, bad URI, locked database...
        raise TrackingError(
            f"cannot open the MLflow store {mask_value(uri)!r} ({type(err).__name__}: "
            f"{mask_value(str(err))[:200]}). Start the server or fix logger.tracking_uri."
        ) from err
    return client


def probe_remote_store(uri: str, timeout: float = 5.0) -> None:
    """A tracking server's /health or a database's port, in seconds and without MLflow's
    import; a local sqlite store passes (its checks come with the client)."""
    if uri.startswith(("http://", "https://")):
        from urllib.error import URLError
        from urllib.request import urlopen

        try:
            urlopen(f"{uri.rstrip('/')}/health", timeout=timeout).close()
        except (URLError, OSError) as err:
            raise TrackingError(
                f"cannot open the MLflow store {mask_value(uri)!r} ({err}). "
                "Start the server or fix logger.tracking_uri."
            ) from err
    elif "://" in uri and not uri.startswith(("sqlite:", "file:", "databricks")):
        probe_database(uri, timeout)


DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
DRIVERS = {"postgresql": "psycopg", "postgresql+psycopg": "psycopg",
           "postgresql+psycopg2": "psycopg2", "mysql": "MySQLdb",
           "mysql+pymysql": "pymysql"}  # fmt: skip


def probe_database(uri: str, timeout: float = 5.0) -> None:
    """A database-backed store: its driver importable and its host accepting connections,
    checked in seconds (SQLAlchemy under MLflow retries for minutes)."""
    import importlib.util
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    scheme = parts.scheme
    driver = DRIVERS.get(scheme)
    if driver and importlib.util.find_spec(driver) is None:
        raise TrackingError(
            f"logger.tracking_uri={mask_value(uri)!r} needs the Python driver {driver!r}, which is "
            "not installed: pip install it, or name an installed one "
            "(postgresql+psycopg2://... with psycopg2-binary)."
        )
    host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(scheme.split("+")[0])
    if not host or not port:
        return  # a socket path or an unusual URI: leave it to MLflow
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        raise TrackingError(
            f"cannot open the MLflow store {mask_value(uri)!r}: the database at {host}:{port} does "
            f"not answer ({err}). Start it or fix logger.tracking_uri."
        ) from err


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


def run_in_store(client: MlflowClient, run_id: str, setting: str):
    """The run `run_id` of the client's store, or one line naming the setting that gave the
    id and the store it was looked up in."""
    try:
        return client.get_run(run_id)
    except Exception as err:
        raise ConfigError(f"{setting}={run_id}: no such run in {client.tracking_uri}") from err
