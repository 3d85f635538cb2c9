"""`xlt-ui`: the MLflow UI on the local store, bound to loopback unless told otherwise."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from xlt.tracking.store import default_tracking_uri


def ui_command(tracking_uri: str, host: str, port: int) -> list[str]:
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    exe = str(mlflow_bin) if mlflow_bin.exists() else "mlflow"
    return [exe, "ui", "--backend-store-uri", tracking_uri, "--host", host, "--port", str(port)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xlt-ui", description=__doc__)
    parser.add_argument("--tracking-uri", default=default_tracking_uri())
    parser.add_argument("--host", default="127.0.0.1", help="default: loopback only")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    command = ui_command(args.tracking_uri, args.host, args.port)
    print(f"MLflow UI on http://{args.host}:{args.port} (store {args.tracking_uri})")
    os.execvp(command[0], command)  # the UI replaces this process; Ctrl-C stops it
    return 0


if __name__ == "__main__":
    sys.exit(main())
