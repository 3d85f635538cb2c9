"""The per-language results table printed at the end of a run (and logged as CSV): the task's
metrics on test, and its primary metric on dev (the selection split)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from xlt.evaluation.translated_inputs import is_translated


def language_rows(
    results: dict[str, dict[str, float]],
    languages: list[str],
    source: str,
    metrics: tuple[str, ...] = ("acc", "macro_f1"),
    primary: str = "acc",
) -> list[dict[str, Any]]:
    test, dev = results.get("test", {}), results.get("dev", {})
    rows = []
    for lang in languages:
        role = "source" if lang == source else "translate-test" if is_translated(lang) else "target"
        row: dict[str, Any] = {"language": lang, "role": role}
        row |= {f"test_{m}": test.get(f"test/{m}/{lang}") for m in metrics}
        row[f"dev_{primary}"] = dev.get(f"dev/{primary}/{lang}")
        rows.append(row)
    return rows


def print_results(
    rows: list[dict[str, Any]],
    results: dict[str, dict[str, float]],
    title: str,
    primary: str = "acc",
) -> None:
    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    columns = [c for c in rows[0] if c not in ("language", "role")]
    table = Table(title=f"{title} (test, except dev {primary})")
    table.add_column("language")
    table.add_column("role")
    for column in columns:
        table.add_column(column.removeprefix("test_").replace("_", " "), justify="right")
    for r in rows:
        table.add_row(r["language"], r["role"], *(fmt(r[c]) for c in columns))
    test = results.get("test", {})
    if "test/transfer_gap" in test:
        table.add_section()
        averages = [fmt(test.get(f"test/{c.removeprefix('test_')}/avg_target"))
                    if c.startswith("test_") else "" for c in columns]  # fmt: skip
        table.add_row("avg target", "", *averages)
        gap = [fmt(test["test/transfer_gap"]) if c == f"test_{primary}" else "" for c in columns]
        table.add_row("transfer gap", "src - avg", *gap)
    Console().print(table)
