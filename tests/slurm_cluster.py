"""A real single-node SLURM for the tests (Debian's slurmctld, slurmd, slurmdbd and munge, with a
local MariaDB for accounting, which submitit needs to see job states), on loopback, configured
in a temporary folder and stopped afterwards. The settings are those checked on these machines
(../shared/slurm-notes.md). `.ci/run` installs the packages; with CI=true a cluster that cannot
start fails the test instead of skipping it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINARIES = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")
MYSQL_SOCKET = Path("/run/mysqld/mysqld.sock")  # where slurmdbd's client looks for it


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]


def slurm_conf(root: Path, host: str) -> str:
    return f"""ClusterName=xlt
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MailProg=/bin/true
JobRequeue=1
ReturnToService=2
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
NodeName={host} CPUs={os.cpu_count()} RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def slurmdbd_conf(root: Path) -> str:
    return f"""AuthType=auth/munge
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort=6819
CommunicationParameters=NoInAddrAny
SlurmUser=root
PidFile={root}/slurmdbd.pid
LogFile={root}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=xlt-test
"""


def run(args: list[str], check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=60, **kwargs)


def wait_until(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"SLURM test cluster: {what} did not come up in {timeout:.0f} s")
        time.sleep(0.5)


def start_munge() -> None:
    Path("/run/munge").mkdir(exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    if run(["pgrep", "-x", "munged"], check=False).returncode != 0:
        run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"])


def start_mariadb(root: Path) -> subprocess.Popen:
    data = root / "mysql"
    run(
        [
            "mariadb-install-db",
            f"--datadir={data}",
            "--user=root",
            "--auth-root-authentication-method=socket",
        ]
    )
    MYSQL_SOCKET.parent.mkdir(exist_ok=True)
    server = subprocess.Popen(
        ["/usr/sbin/mariadbd", f"--datadir={data}", "--user=root", "--skip-networking",
         f"--socket={MYSQL_SOCKET}", f"--pid-file={root}/mariadb.pid"],
        stdout=subprocess.DEVNULL, stderr=(root / "mariadb.log").open("w"),
    )  # fmt: skip
    wait_until(MYSQL_SOCKET.exists, "MariaDB")
    sql = ("CREATE DATABASE IF NOT EXISTS slurm_acct_db; "
           "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'xlt-test'; "
           "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';")  # fmt: skip
    run(["mariadb", f"--socket={MYSQL_SOCKET}", "-e", sql])
    return server


def node_idle(env: dict) -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env)
    return out.stdout.strip() == "idle"


def stop(pid_file: Path) -> None:
    if pid_file.exists():
        subprocess.run(["kill", pid_file.read_text().strip()], check=False)


@contextmanager
def slurm_cluster(root: Path) -> Iterator[dict[str, str]]:
    """Yields the environment (SLURM_CONF) that points SLURM's commands at the cluster."""
    host = socket.gethostname().split(".")[0]
    for folder in ("state", "spool"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "slurm.conf").write_text(slurm_conf(root, host))
    dbd = root / "slurmdbd.conf"
    dbd.write_text(slurmdbd_conf(root))
    dbd.chmod(0o600)
    env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}
    start_munge()
    mariadb = start_mariadb(root)
    try:
        run(["/usr/sbin/slurmdbd"], env=env)  # reads slurmdbd.conf beside SLURM_CONF
        wait_until(lambda: _port_open(6819), "slurmdbd")
        run(["/usr/sbin/slurmctld", "-i"], env=env)
        run(["/usr/sbin/slurmd"], env=env)
        wait_until(lambda: node_idle(env), "the node")
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--user=root"], env=env, check=False)
        for name in ("slurmd", "slurmctld", "slurmdbd"):
            stop(root / f"{name}.pid")
        time.sleep(1)
        subprocess.run(["pkill", "-9", "-f", "slurmstepd"], check=False)  # steps slurmd left
        mariadb.terminate()
        mariadb.wait(timeout=30)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
