"""Users' own text files: one place for "is it there, is it UTF-8 text, is it empty", the
sentence files of task=bitext (aligned pairs, unaligned pools), MAD-X corpora and dictionaries.

Accepted as written: a UTF-8 byte-order mark, CRLF, CR or mixed line ends. Refused in one line
naming the file and line: other encodings (UTF-16, Latin-1, ...) and NUL bytes. Lines end only
at line ends: U+2028, U+0085 and form feeds inside a line are text (`str.splitlines` would cut
a dictionary line there)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from xlt.errors import DataError

BOM = "\ufeff"
# Fields of a word file (dictionary, word list) are separated by spaces or tabs only: a no-break
# space or U+2028 inside a word is part of the word, as the file's author wrote it.
FIELD_SEPARATOR = re.compile(r"[ \t]+")


def fields_of(line: str) -> list[str]:
    """A word file's fields: split at runs of spaces and tabs (none for a blank line)."""
    line = line.strip(" \t")
    return FIELD_SEPARATOR.split(line) if line else []


def decoded(path: Path) -> str:
    """The file as text: UTF-8 (a leading BOM dropped), line ends made `\\n`, no NUL bytes."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        hint = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DataError(f"{path} line {line}: not valid UTF-8{hint} ({err.reason} at byte "
                        f"{err.start}); convert it, e.g. `iconv -t UTF-8`") from err  # fmt: skip
    text = text.removeprefix(BOM)
    check_no_nul(path, text, 1)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def stream_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) read one line at a time, for files too large to decode at once
    (2M-word vector files): the same rules as `decoded`, each error at its exact line."""
    number = 0
    with path.open("rb") as raw_lines:
        for raw in raw_lines:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                hint = " (it looks like UTF-16)" if number == 0 and raw[:2] in (
                    b"\xff\xfe", b"\xfe\xff") else ""  # fmt: skip
                raise DataError(
                    f"{path} line {number + 1}: not valid UTF-8{hint} "
                    f"({err.reason}); convert it, e.g. `iconv -t UTF-8`"
                ) from err
            if number == 0:
                text = text.removeprefix(BOM)
            for piece in text.removesuffix("\n").removesuffix("\r").split("\r"):
                number += 1
                check_no_nul(path, piece, number)
                yield number, piece


def check_no_nul(path: Path, text: str, first_line: int) -> None:
    """A NUL byte is binary data or UTF-16 read as UTF-8: refused at its line."""
    if "\x00" in text:
        line = first_line + text.count("\n", 0, text.index("\x00"))
        raise DataError(f"{path} line {line}: a NUL byte; the file is binary or not UTF-8 text")


def read_lines(path: str | Path, what: str) -> list[str]:
    """The file's lines (line ends and a byte-order mark removed); `what` names the file in
    errors ("dictionary file", "pool")."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    text = decoded(path)
    return text.removesuffix("\n").split("\n") if text else []


def read_sentences(path: str | Path, what: str) -> list[str]:
    """One sentence per line; blank lines dropped; at least one sentence."""
    sentences = [line.strip() for line in read_lines(path, what) if line.strip()]
    if not sentences:
        raise DataError(f"{path}: no sentences in it ({what})")
    return sentences


def read_pairs(spec) -> tuple[list[str], list[str]]:
    """Aligned sentence pairs: a TSV of `source<TAB>target` lines, or a list of two line-aligned
    files (source, target) of equal length."""
    if isinstance(spec, str | Path):
        source, target = [], []
        for number, line in enumerate(read_lines(spec, "pairs file"), 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not all(f.strip() for f in fields):
                raise DataError(f"{spec} line {number}: expected 'source<TAB>target', got "
                                f"{line.strip()[:80]!r}")  # fmt: skip
            source.append(fields[0].strip())
            target.append(fields[1].strip())
        if not source:
            raise DataError(f"{spec}: no sentence pairs in it")
        return source, target
    files = list(spec)
    if len(files) != 2:
        raise DataError(f"task.pairs={files}: give a TSV file or [SOURCE_FILE, TARGET_FILE]")
    source = [line.strip() for line in read_lines(files[0], "pairs source file")]
    target = [line.strip() for line in read_lines(files[1], "pairs target file")]
    if len(source) != len(target):
        raise DataError(f"task.pairs: {files[0]} has {len(source)} lines, {files[1]} has "
                        f"{len(target)}; line-aligned files need equal line counts")  # fmt: skip
    kept = [(s, t) for s, t in zip(source, target, strict=True) if s and t]
    if not kept:
        raise DataError(f"task.pairs: {files} hold no sentence pairs")
    return [s for s, _ in kept], [t for _, t in kept]
