"""`xlt-register RUN_ID NAME` and `xlt-serve NAME@champion`: from one run to predictions over
HTTP. Registering logs the run's model from its checkpoint where it has none, and moves the
alias `champion` only to a run with a better source dev score under the same protocol. Serving
is MLflow's scoring server (`mlflow models serve`) in this environment, with this environment's
binaries on PATH (the server starts `uvicorn`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from xlt.errors import XltError
from xlt.tracking.registry import ALIAS, register_run
from xlt.tracking.store import check_tracking_store, default_tracking_uri


def register_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xlt-register", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_id", help="a finished xlt-train run")
    parser.add_argument("name", help="the registered model's name, e.g. topics")
    parser.add_argument("--tracking-uri", default=default_tracking_uri())
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        client = check_tracking_store(args.tracking_uri)
        version, crowned, why = register_run(client, args.run_id, args.name, args.tracking_uri)
    except XltError as err:
        print(f"xlt-register: error: {err}", file=sys.stderr)
        return 2
    alias = f"now models:/{args.name}@{ALIAS}" if crowned else f"not {ALIAS}"
    print(f"registered run {args.run_id} as {args.name} version {version.version}, {alias} "
          f"({why})")  # fmt: skip
    return 0


def serve_command(model: str, host: str, port: int, workers: int) -> list[str]:
    bin_dir = Path(sys.executable).parent
    return [str(bin_dir / "mlflow"), "models", "serve", "-m", model, "--env-manager", "local",
            "--host", host, "--port", str(port), "--workers", str(workers)]  # fmt: skip


def serve_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xlt-serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="NAME@ALIAS (e.g. topics@champion) or any model URI")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tracking-uri", default=default_tracking_uri())
    args = parser.parse_args(argv)
    model = args.model if ":/" in args.model else f"models:/{args.model}"
    try:
        check_tracking_store(args.tracking_uri)
    except XltError as err:
        print(f"xlt-serve: error: {err}", file=sys.stderr)
        return 2
    env = dict(os.environ, MLFLOW_TRACKING_URI=args.tracking_uri)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    command = serve_command(model, args.host, args.port, args.workers)
    print(f"serving {model} on http://{args.host}:{args.port}/invocations", flush=True)
    os.execve(command[0], command, env)  # the server's signals and exit status are its own
    return 0  # not reached
