"""`xlt-reproduce RUN_ID`: rerun a logged run from its manifest and compare the metrics."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from xlt.config.retired import rename_override
from xlt.errors import ConfigError
from xlt.tracking.manifest import MASK, git_state, unmasked
from xlt.tracking.store import check_tracking_store, default_tracking_uri


def load_manifest(client, run_id: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, "manifest.json", tmp)
        return json.loads(Path(path).read_text())


def replayable(overrides: list[str], out_dir: Path, extra: list[str]) -> list[str]:
    """The original overrides with no `***` in them: secrets the user passes again win, the
    rest come from the run folder's private copy (or a one-line error says what to pass)."""

    again = {o.partition("=")[0].lstrip("+~") for o in extra}
    kept = [o for o in overrides if not (MASK in o and o.partition("=")[0].lstrip("+~") in again)]
    return unmasked(out_dir, "overrides.yaml", kept, "xlt-reproduce")


def rerun_command(
    manifest: dict, run_id: str, tracking_uri: str, extra: list[str], out_dir: Path = Path()
) -> list[str]:
    """The original overrides, the same store, a tag pointing back at the original run."""
    exe = Path(sys.executable).parent / "xlt-train"

    originals = replayable(manifest["overrides"], out_dir, extra)
    overrides = [rename_override(o) for o in originals  # old names, current ones
                 if not o.startswith("logger.tracking_uri=")]  # fmt: skip
    return [
        str(exe),
        *overrides,
        f"logger.tracking_uri={tracking_uri}",
        f"+logger.tags.reproduces={run_id}",
        *extra,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xlt-reproduce", description=__doc__)
    parser.add_argument("run_id")
    parser.add_argument("--tracking-uri", default=default_tracking_uri())
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (e.g. trainer=gpu)")
    args = parser.parse_args(argv)

    client = check_tracking_store(args.tracking_uri)
    original = client.get_run(args.run_id)
    manifest = load_manifest(client, args.run_id)
    now = git_state()
    if now["commit"] != manifest["git"]["commit"] or manifest["git"]["dirty"]:
        print(
            f"xlt-reproduce: warning: the run used commit {manifest['git']['commit']}"
            f"{' (dirty)' if manifest['git']['dirty'] else ''}; this checkout is {now['commit']}."
        )
    out_dir = Path(original.data.tags.get("output_dir", ""))
    try:
        command = rerun_command(manifest, args.run_id, args.tracking_uri, args.overrides, out_dir)
    except ConfigError as err:
        print(f"xlt-reproduce: {err}", file=sys.stderr)
        return 2
    print("rerunning:", " ".join(command))
    status = subprocess.run(command).returncode
    if status != 0:
        return status
    rerun = client.search_runs(
        [original.info.experiment_id],
        filter_string=f"tags.reproduces = '{args.run_id}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    print(f"\n{'metric':28s} {'original':>10s} {'rerun':>10s}")
    for key in sorted(k for k in original.data.metrics if k.startswith("test/")):
        again = rerun.data.metrics.get(key, float("nan"))
        print(f"{key:28s} {original.data.metrics[key]:10.4f} {again:10.4f}")
    print(f"rerun: MLflow run {rerun.info.run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
