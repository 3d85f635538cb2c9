"""The documentation's generated blocks: every config field with its doc (read from the comments
beside the schema's fields), the option tables of the groups that build classes, and the
protocol rules. A block sits between `<!-- generated: KIND ARG -->` and `<!-- generated: end
ARG -->` in a docs page; `python -m xlt.config.reference docs` rewrites them, and the mkdocs
hook (docs/hooks.py) fails the build when one is stale."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path

from xlt.config import schema
from xlt.config.options import options_table
from xlt.config.ranges import schema_ranges
from xlt.evaluation.protocol import protocol_table

BLOCK = re.compile(r"<!-- generated: (\w+) (\S+) -->\n(.*?)<!-- generated: end \2 -->", re.S)


def field_docs(cls: type) -> dict[str, str]:
    """The comment lines above a dataclass field and the one after it, joined."""
    lines, _ = inspect.getsourcelines(cls)
    docs = {}
    for node in ast.parse(inspect.getsource(cls)).body[0].body:
        if not isinstance(node, ast.AnnAssign):
            continue
        above = []
        for line in reversed(lines[: node.lineno - 1]):
            if not line.strip().startswith("#"):
                break
            above.insert(0, line.strip().lstrip("# ").rstrip())
        trailing = lines[node.lineno - 1].partition("  # ")[2].strip()
        docs[node.target.id] = " ".join([*above, trailing]).strip().replace("|", "\\|")
    return docs


def section_table(prefix: str, cls: type) -> list[str]:
    """One row per field: key, type, schema default, declared range, doc."""
    docs, ranges = field_docs(cls), schema_ranges(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if f.name.startswith("_") or dataclasses.is_dataclass(_section_type(cls, f.name)):
            continue
        default = f.default
        if default is dataclasses.MISSING:
            factory = f.default_factory
            default = factory() if factory is not dataclasses.MISSING else ""
        shown = "*required*" if default == "???" else f"`{default}`" if default != "" else ""
        bound = ranges[f.name].describe() if f.name in ranges else ""
        kind = str(f.type).replace("|", "or")
        rows.append(f"| `{prefix}{f.name}` | {kind} | {shown} | {bound} | {docs.get(f.name, '')} |")
    return rows


def _section_type(cls: type, name: str):
    hint = {f.name: f for f in dataclasses.fields(cls)}[name]
    return getattr(schema, str(hint.type), None)


def config_fields(_: str = "") -> str:
    """The table of every typed config field (groups that build classes have their own)."""
    lines = ["| key | type | schema default | range | what it does |", "|---|---|---|---|---|"]
    lines += section_table("", schema.TrainConfig)
    for f in dataclasses.fields(schema.TrainConfig):
        section = _section_type(schema.TrainConfig, f.name)
        if dataclasses.is_dataclass(section):
            lines += section_table(f"{f.name}.", section)
    return "\n".join(lines) + "\n"


GENERATORS: dict[str, Callable[[str], str]] = {
    "options": options_table,
    "protocol": lambda _: protocol_table(),
    "fields": config_fields,
}


def regenerate(text: str) -> str:
    """`text` with every generated block made anew."""
    return BLOCK.sub(lambda m: f"<!-- generated: {m[1]} {m[2]} -->\n"
                     f"{GENERATORS[m[1]](m[2])}<!-- generated: end {m[2]} -->", text)  # fmt: skip


def stale_blocks(text: str) -> list[str]:
    """`KIND ARG` of each generated block whose content differs from a fresh one."""
    return [f"{m[1]} {m[2]}" for m in BLOCK.finditer(text) if GENERATORS[m[1]](m[2]) != m[3]]


def update_pages(folder: Path) -> list[Path]:
    """Rewrite the generated blocks of every page under `folder`; the pages that changed."""
    changed = []
    for page in sorted(folder.rglob("*.md")):
        text = page.read_text()
        if (new := regenerate(text)) != text:
            page.write_text(new)
            changed.append(page)
    return changed


if __name__ == "__main__":  # `make docs`
    for page in update_pages(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")):
        print(f"regenerated {page}")
