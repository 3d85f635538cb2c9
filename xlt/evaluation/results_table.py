"""The per-language results table printed at the end of a run (and logged as CSV)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def language_rows(
    results: dict[str, dict[str, float]], languages: list[str], source: str
) -> list[dict[str, Any]]:
    test, dev = results.get("test", {}), results.get("dev", {})
    rows = []
    for lang in languages:
        rows.append(
            {
                "language": lang,
                "role": "source" if lang == source else "target",
                "test_acc": test.get(f"test/acc/{lang}"),
                "test_macro_f1": test.get(f"test/macro_f1/{lang}"),
                "dev_acc": dev.get(f"dev/acc/{lang}"),
            }
        )
    return rows


def print_results(
    rows: list[dict[str, Any]], results: dict[str, dict[str, float]], title: str
) -> None:
    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    table = Table(title=title)
    for column in ("language", "role", "test acc", "test macro-F1", "dev acc"):
        table.add_column(column, justify="left" if column in ("language", "role") else "right")
    for r in rows:
        table.add_row(
            r["language"], r["role"], fmt(r["test_acc"]), fmt(r["test_macro_f1"]), fmt(r["dev_acc"])
        )
    test = results.get("test", {})
    if "test/transfer_gap" in test:
        table.add_section()
        table.add_row(
            "avg target",
            "",
            fmt(test["test/acc/avg_target"]),
            fmt(test["test/macro_f1/avg_target"]),
            "",
        )
        table.add_row("transfer gap", "source - avg target", fmt(test["test/transfer_gap"]), "", "")
    Console().print(table)
