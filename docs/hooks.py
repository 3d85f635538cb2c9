"""mkdocs hook: a generated block (option tables, config fields, protocol rules) that differs
from what the code generates now is a warning, which `mkdocs build --strict` turns into a
failed build. `make docs` regenerates them."""

from __future__ import annotations

import logging

from xlt.config.reference import stale_blocks

log = logging.getLogger("mkdocs.plugins.xlt")


def on_page_markdown(markdown: str, page, config, files) -> str:
    for block in stale_blocks(markdown):
        log.warning("%s: generated block '%s' is stale; run `make docs`", page.file.src_path, block)
    return markdown
