"""A report: tables as Markdown and CSV (estimates with 95% intervals, paired comparisons within
each protocol) and plots as PNG; also attached to a sweep's parent run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from rich.console import Console
from rich.table import Table

from xlt.reporting import plots
from xlt.reporting.aggregate import (
    compare_within_protocols,
    comparison_notes,
    format_table,
    primary_metric,
    summarize_runs,
)
from xlt.reporting.collect import Collected, fetch_runs, predictions
from xlt.reporting.typology import typology_table


def notes(collected: Collected) -> list[str]:
    """What the tables leave out, said beside them."""
    lines = []
    if collected.left_out:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(collected.left_out.items()))
        lines.append(f"Left out (not finished): {counts}.")
    if collected.shared:
        given = " ".join(f"{k}={v}" for k, v in sorted(collected.shared.items()))
        lines.append(f"Every run: `{given}` (left out of the configuration labels).")
    if collected.repeats:
        lines.append(f"{collected.repeats} repeated run(s) of a seed set aside: the latest run "
                     "of each seed and configuration is used.")  # fmt: skip
    lines.append("Cells: estimate [95% t interval], with seeds and test rows both as sources of "
                 "error (`seeds only` where runs logged no per-row scores). Protocols are never "
                 "averaged together; runs that computed differently (precision, attention kernel, "
                 "defaults set by the environment) never share a cell.")  # fmt: skip
    return lines


def build_report(
    client: MlflowClient, collected: Collected, out_dir: Path, baseline: str | None = None
) -> dict[str, Path]:
    """Write the report files into `out_dir`; returns them by kind. `baseline`: the reference
    configuration's label (default: each protocol's best by source dev)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs, cache = collected.runs, {}
    metric = primary_metric(runs)
    summary, keys = summarize_runs(runs, lambda run_id: predictions(client, run_id, cache), metric,
                                   collected.shared)  # fmt: skip
    compared = compare_within_protocols(runs, lambda r: predictions(client, r, cache), metric,
                                        baseline)  # fmt: skip
    table = format_table(summary, keys)
    files = {kind: out_dir / name for kind, name in (
        ("markdown", "report.md"), ("csv", "report.csv"), ("comparisons", "comparisons.csv"),
        ("runs_csv", "report_runs.csv"))}  # fmt: skip
    text = table.to_markdown(index=False) + "\n\n" + "\n".join(notes(collected)) + "\n"
    if not compared.empty:
        text += "\nPaired differences within each protocol:\n\n"
        text += compared.to_markdown(index=False, floatfmt=".4f") + "\n\n"
        text += "\n".join(comparison_notes(compared)) + "\n"
    files["markdown"].write_text(text)
    summary.to_csv(files["csv"], index=False)
    compared.to_csv(files["comparisons"], index=False)
    runs.drop(columns=["config"]).to_csv(files["runs_csv"], index=False)
    files.update(write_plots(client, runs, summary, metric, out_dir))
    files.update(write_typology(summary, metric, runs["source_lang"].iloc[0], out_dir))
    return files


def write_typology(summary: pd.DataFrame, metric: str, source: str, out_dir: Path) -> dict:
    """typology.md/.csv where the runs have two or more targets (xlt/reporting/typology.py)."""
    if sum(c.startswith(f"{metric} ") and not c.endswith((" low", " high"))
           for c in summary.columns) < 4:  # fmt: skip
        return {}
    text, table = typology_table(summary, metric, source)
    (out_dir / "typology.md").write_text(text)
    table.to_csv(out_dir / "typology.csv")
    return {"typology": out_dir / "typology.md", "typology_csv": out_dir / "typology.csv"}


def write_plots(client, runs, summary, metric: str, out_dir: Path) -> dict[str, Path]:
    """Bars per language, the source x target matrix, learning curves: one colour per
    configuration in all of them."""
    colour = plots.colours(list(summary["configuration"]))
    made = {
        "bars": plots.language_bars(summary, metric, colour, out_dir / "by_language.png"),
        "heatmap": plots.transfer_heatmap(runs, metric, out_dir / "transfer_heatmap.png"),
        "languages": plots.language_heatmap(summary, metric, out_dir / "by_language_heatmap.png"),
        "curves": plots.learning_curves(client, runs, metric, colour,
                                        out_dir / "learning_curves.png"),
    }  # fmt: skip
    return {kind: path for kind, path in made.items() if path}


def print_table(table: pd.DataFrame, title: str) -> None:
    rich_table = Table(title=title)
    for column in table.columns:
        rich_table.add_column(str(column))
    for _, row in table.iterrows():
        rich_table.add_row(*(str(v) for v in row))
    Console(width=220).print(rich_table)


def report_on_parent(client: MlflowClient, parent_run_id: str) -> dict[str, Path]:
    """The report of a sweep, logged as artifacts of its parent run (folder `report/`)."""
    collected = fetch_runs(client, parent_run_id=parent_run_id)
    if collected.runs.empty:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        files = build_report(client, collected, Path(tmp))
        for path in files.values():
            client.log_artifact(parent_run_id, str(path), artifact_path="report")
    return files
