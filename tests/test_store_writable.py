"""A store xlt-train cannot write is refused before anything loads, in one line naming the URI,
the cause and the fix, with exit 2 (it used to fail after minutes inside SQLAlchemy). The
read-only folder is a real read-only file system: a tmpfs mounted in a private mount namespace
(`unshare -m` as root, `unshare -rm` otherwise: the kernel's user namespaces)."""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import threading

import pytest

from tests.test_cli_end_to_end import XLT_TRAIN
from xlt.errors import TrackingError
from xlt.tracking.store import check_local_store_writable


def in_read_only_folder(folder, command: list[str], with_database: bool):
    """Run `command` with `folder` a read-only tmpfs (holding an empty store, or none)."""
    seed = f"touch {folder}/mlflow.db && " if with_database else ""
    script = (f"mount -t tmpfs -o size=1m none {folder} && {seed}"
              f"mount -o remount,ro {folder} && exec {shlex.join(command)}")  # fmt: skip
    private = "-m" if os.geteuid() == 0 else "-rm"  # root needs no user namespace
    proc = subprocess.run(["unshare", private, "sh", "-c", script], capture_output=True,
                          text=True, timeout=120, cwd=folder.parent,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    if "unshare:" in proc.stderr or "mount:" in proc.stderr:
        if os.environ.get("CI"):
            pytest.fail(f"no private read-only mount here: {proc.stderr.strip()}")
        pytest.skip(f"no private read-only mount here: {proc.stderr.strip()}")
    return proc


@pytest.mark.parametrize("with_database", [False, True])
def test_a_read_only_store_is_refused_in_one_line_with_exit_2(tmp_path, with_database):
    folder = tmp_path / "store"
    folder.mkdir()
    uri = f"sqlite:///{folder}/mlflow.db"
    proc = in_read_only_folder(folder, [XLT_TRAIN, f"logger.tracking_uri={uri}",
                                        "model=tiny_random", f"paths.root_dir={tmp_path}"],
                               with_database)  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert line.startswith("xlt: error: cannot write the MLflow store")
    assert uri in line and "Read-only file system" in line and "logger.tracking_uri=" in line


def test_a_store_locked_by_another_program_is_named(tmp_path):
    """Another process holds sqlite's write lock for longer than the probe waits."""
    path = tmp_path / "mlflow.db"
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(15, holder.rollback)
    release.start()
    try:
        with pytest.raises(TrackingError, match=r"\(database is locked\); wait for the other"):
            check_local_store_writable(f"sqlite:///{path}")
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
