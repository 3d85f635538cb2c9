"""A report (table as Markdown and CSV, plots as PNG), also attached to a sweep's parent run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from rich.console import Console
from rich.table import Table

from xlt.reporting import plots
from xlt.reporting.aggregate import format_table, summarize_runs, varying_keys
from xlt.reporting.collect import fetch_runs


def build_report(client: MlflowClient, runs: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Write the report files into `out_dir`; returns them by kind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = varying_keys(runs)
    summary = summarize_runs(runs)
    table = format_table(summary, keys)
    files = {
        "markdown": out_dir / "report.md",
        "csv": out_dir / "report.csv",
        "runs_csv": out_dir / "report_runs.csv",
    }
    files["markdown"].write_text(table.to_markdown(index=False) + "\n")
    summary.to_csv(files["csv"], index=False)
    runs.to_csv(files["runs_csv"], index=False)
    files["bars"] = plots.language_bars(summary, keys, out_dir / "accuracy_by_language.png")
    heatmap = plots.transfer_heatmap(runs, out_dir / "transfer_heatmap.png")
    if heatmap:
        files["heatmap"] = heatmap
    curves = plots.learning_curves(client, runs, keys, out_dir / "learning_curves.png")
    if curves:
        files["curves"] = curves
    return files


def print_table(table: pd.DataFrame, title: str) -> None:
    rich_table = Table(title=title)
    for column in table.columns:
        rich_table.add_column(
            str(column), justify="right" if "±" in str(table[column].iloc[0]) else "left"
        )
    for _, row in table.iterrows():
        rich_table.add_row(*(str(v) for v in row))
    Console(width=200).print(rich_table)


def report_on_parent(client: MlflowClient, parent_run_id: str) -> dict[str, Path]:
    """The report of a sweep, logged as artifacts of its parent run (folder `report/`)."""
    runs = fetch_runs(client, parent_run_id=parent_run_id)
    if runs.empty:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        files = build_report(client, runs, Path(tmp))
        for path in files.values():
            client.log_artifact(parent_run_id, str(path), artifact_path="report")
    return files
