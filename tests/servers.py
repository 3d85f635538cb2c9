"""Real servers for tests, on free loopback ports, stopped afterwards: PostgreSQL (binaries from
the `pgserver` wheel, or Debian's), an MLflow tracking server, the MLflow UI."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PG_USER = "xltpg"  # PostgreSQL refuses to run as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin_dir() -> Path:
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)
    except ImportError:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not found:
            raise RuntimeError("no PostgreSQL binaries: install the dev extra (pgserver)") from None
        return Path(found[-1]).parent


def _run_as_postgres_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = PG_USER if os.geteuid() == 0 else None
    return subprocess.run(args, check=True, capture_output=True, text=True, user=user, **kwargs)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster on 127.0.0.1:<free port>; yields a SQLAlchemy URI."""
    bin_dir = postgres_bin_dir()
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", PG_USER], check=True)
    base = Path(tempfile.mkdtemp(prefix="xlt-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, PG_USER)
    port = free_port()
    try:
        _run_as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                               "-A", "trust", "-N"], timeout=120)  # fmt: skip
        _run_as_postgres_user(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(base / "log"),
             "-o", f"-p {port} -h 127.0.0.1 -k {base}", "start"],
            timeout=90,
        )  # fmt: skip
        _run_as_postgres_user(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
             "mlflow"], timeout=30,
        )  # fmt: skip
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        with contextlib.suppress(Exception):
            _run_as_postgres_user(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], timeout=60
            )
        shutil.rmtree(base, ignore_errors=True)


def wait_for_http(url: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


@contextlib.contextmanager
def background(args: list[str], health_url: str, log_path: Path) -> Iterator[None]:
    """Run a server process until the block ends; its output goes to `log_path`."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(health_url)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def mlflow_server(
    backend_uri: str, artifacts: Path, log_path: Path, port: int | None = None
) -> Iterator[str]:
    port = port or free_port()
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    args = [mlflow_bin, "server", "--backend-store-uri", backend_uri, "--host", "127.0.0.1",
            "--port", str(port), "--artifacts-destination", str(artifacts),
            "--workers", "1"]  # fmt: skip
    with background(args, f"http://127.0.0.1:{port}/health", log_path):
        yield f"http://127.0.0.1:{port}"
