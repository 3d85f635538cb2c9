"""`xlt-report`: compare runs from MLflow: configurations x languages, mean +- std over seeds."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from xlt.errors import XltError
from xlt.reporting.configs import configuration, label, parse_overrides
from xlt.tracking.registry import ALIAS, register_best
from xlt.tracking.store import check_tracking_store, default_tracking_uri


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="xlt-report", description=__doc__)
    select = parser.add_argument_group("which runs (default: every experiment)")
    select.add_argument("--experiment", action="append", help="MLflow experiment name (repeatable)")
    select.add_argument("--parent", help="a sweep's parent run id: its child runs")
    select.add_argument(
        "--filter", default="", help="an MLflow filter, e.g. \"tags.model = 'me5_small'\""
    )
    parser.add_argument("--tracking-uri", default=default_tracking_uri())
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report folder (default: outputs/reports/<time>, with outputs/reports/latest "
        "pointing at the newest)",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        help="published numbers (CSV, e.g. experiments/xtreme/references.csv) to compare with",
    )
    parser.add_argument(
        "--baseline",
        metavar="CONFIG",
        help="the reference every configuration is compared with, as overrides (e.g. "
        "'strategy=zero_shot'); default: each protocol's best mean source-dev configuration",
    )
    parser.add_argument(
        "--log-to-parent", action="store_true", help="also attach the report to --parent's run"
    )
    registry = parser.add_argument_group("the model registry")
    registry.add_argument("--register", metavar="NAME", help="register --parent's best trial "
                          "(by source dev) as NAME with the alias champion")  # fmt: skip
    registry.add_argument("--protocol", help="with --register: the protocol whose trials compete")
    return parser.parse_args(argv)


def report_folder(out: Path | None) -> Path:
    """Each report its own folder; `outputs/reports/latest` points at the newest."""
    if out is not None:
        return out
    import time

    root = Path("outputs/reports")
    folder = root / time.strftime("%Y-%m-%d_%H-%M-%S")
    folder.mkdir(parents=True, exist_ok=True)
    latest = root / "latest"
    if latest.is_symlink() or not latest.exists():
        latest.unlink(missing_ok=True)
        latest.symlink_to(folder.name)
    return folder


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # One progress bar per downloaded predictions file would bury the table (entry point only);
    # MLflow and pandas load after the arguments, so a wrong one is answered at once.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from xlt.reporting.collect import fetch_runs
    from xlt.reporting.report import build_report, report_on_parent

    if args.register:
        return register(args)
    try:
        client = check_tracking_store(args.tracking_uri)
        collected = fetch_runs(client, args.experiment, args.parent, args.filter)
    except (XltError, ValueError) as err:
        print(f"xlt-report: error: {err}", file=sys.stderr)
        return 2
    out = report_folder(args.out)
    if args.reference is not None:
        return reference_report(client, collected.runs, args, out)
    if collected.runs.empty:
        print("xlt-report: no finished xlt runs match", file=sys.stderr)
        return 1
    baseline = None
    if args.baseline is not None:
        baseline = baseline_label(args.baseline, set(collected.runs["configuration"]),
                                  collected.shared)  # fmt: skip
        if baseline is None:
            return 2
    files = build_report(client, collected, out, baseline)
    print(files["markdown"].read_text())
    if args.parent and args.log_to_parent:
        report_on_parent(client, args.parent)
    print("report files:\n" + "\n".join(f"  {p}" for p in files.values()))
    return 0


def baseline_label(
    text: str, configurations: set[str], shared: dict[str, str] | None = None
) -> str | None:
    """`--baseline` as the report labels configurations (defaults and the overrides every run
    shares dropped), or None with one line naming the configurations there are."""

    # Composed with what every run shares, so a value that is the default there (e.g.
    # strategy.objective=reversal under strategy=adversarial) names the `default` configuration.
    given = configuration([*(shared or {}).items(), *parse_overrides(text)])
    name = label({k: v for k, v in given.items() if (shared or {}).get(k) != v})
    if name not in configurations:
        known = ", ".join(sorted(configurations))
        print(f"xlt-report: error: --baseline {text!r} ({name}) matches no configuration of "
              f"these runs; they have: {known}", file=sys.stderr)  # fmt: skip
        return None
    return name


def register(args: argparse.Namespace) -> int:
    """--register: the sweep's best trial into the registry (its model logged if needed)."""

    if not args.parent:
        print("xlt-report: error: --register needs --parent SWEEP_RUN_ID", file=sys.stderr)
        return 2
    try:
        client = check_tracking_store(args.tracking_uri)
        run_id, version = register_best(client, args.parent, args.register, args.tracking_uri,
                                        args.protocol)  # fmt: skip
    except XltError as err:
        print(f"xlt-report: error: {err}", file=sys.stderr)
        return 2
    print(
        f"registered run {run_id} as {args.register} version {version.version}: "
        f"models:/{args.register}@{ALIAS}"
    )
    return 0


def reference_report(client, runs, args: argparse.Namespace, out: Path) -> int:
    """Measured next to published; BLI reference rows bring xlt-align's BLI runs in."""
    import pandas as pd

    from xlt.reporting.reference import bli_runs, compare, load_references
    from xlt.reporting.report import print_table

    path = args.reference
    try:
        refs = load_references(path)
        if (refs["task"] == "bli").any():
            runs = pd.concat([runs, bli_runs(client, args.experiment)], ignore_index=True)
        table = compare(runs, refs)
    except XltError as err:
        print(f"xlt-report: error: {err}", file=sys.stderr)
        return 2
    print_table(table, f"measured here vs published ({path})")
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "reference.csv", index=False)
    (out / "reference.md").write_text(table.to_markdown(index=False) + "\n")
    print(f"report files:\n  {out / 'reference.csv'}\n  {out / 'reference.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
