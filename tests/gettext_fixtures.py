"""A folder of gettext catalogues written by the test (the layout of /usr/share/locale): the
loaders take any root folder, so a machine without the Debian packages, or a user's own
catalogues, are read the same way."""

from __future__ import annotations

import struct
from pathlib import Path


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A GNU .mo file (UTF-8) holding `messages` (English -> translation)."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(entries)
    ids = [k.encode() for k in keys]
    strs = [entries[k].encode() for k in keys]
    n, start = len(keys), 7 * 4
    data_start = start + 16 * n
    offsets, blob = [], b""
    for text in ids + strs:
        offsets.append((len(text), data_start + len(blob)))
        blob += text + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, n, start, start + 8 * n, 0, 0)
    table = b"".join(struct.pack("<2I", length, where) for length, where in offsets)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + table + blob)


def write_catalogues(root: Path, translations: dict[str, dict[str, dict[str, str]]]) -> Path:
    """`translations`: locale -> catalogue -> {English: translation}; returns `root`."""
    for locale, by_catalogue in translations.items():
        for name, messages in by_catalogue.items():
            write_mo(root / locale / "LC_MESSAGES" / f"{name}.mo", messages)
    return root
