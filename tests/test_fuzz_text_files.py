"""Generated bad word and text files (issue 36): hypothesis writes the files users hand to
xlt-align and the translators (MUSE dictionaries, fastText `.vec` vectors, vocabulary lists,
one-sentence-per-line corpora, `source<TAB>target` pair files) from random words in any script
and damages each one way: a byte-order mark, CRLF / CR / mixed line ends, a 1 MB line,
U+2028 / U+0085 / no-break spaces / form feeds inside words, UTF-16, a Latin-1 byte, a NUL
byte, a truncated last line, a line with the wrong fields or a number that is not one (nan,
inf, 1e39), no content at all. Each file is read by the reader xlt uses and must either give
exactly what was written (the reference reading below) or be refused in one line naming the
file, and the line where the damage has one. Any other exception fails the test."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlt.align.dictionary import read_dictionary
from xlt.align.vectors import read_vec, read_word_list
from xlt.data.text_files import read_pairs, read_sentences
from xlt.errors import XltError

CASES = 500
DIM = 3
# damage -> whether the file must still read as written (else: refused in one line)
DAMAGES = {"none": True, "bom": True, "crlf": True, "cr": True, "mixed_line_ends": True,
           "huge_line": True, "odd_characters": True, "utf16": False, "latin1": False,
           "nul": False, "truncated": False, "wrong_fields": False, "zero_rows": False}  # fmt: skip
# A cut sentence or vocabulary word is still one: no reader can tell, so it is not generated.
# Extra fields of a word list are its counts, and a sentence has no fields.
NOT_CARRIED = {"sentences": {"truncated", "wrong_fields"},
               "word_list": {"truncated", "wrong_fields"}}  # fmt: skip
KINDS = ("dictionary", "vectors", "word_list", "sentences", "pairs")
ODD = ["\u2028", "\x85", "\xa0", "\x0c", "\x1e", "\u3000"]

words = st.text(st.characters(whitelist_categories=("L", "M", "N", "P", "S")), min_size=1,
                max_size=12)  # fmt: skip
numbers = st.integers(-4000, 4000).map(lambda n: n / 8)  # exact in float32 and in text


@st.composite
def records(draw, kind: str) -> list[tuple]:
    """What one file says, as the reference reading gives it back."""
    if kind == "vectors":
        return draw(st.lists(st.tuples(words, st.tuples(*[numbers] * DIM)), min_size=2,
                             max_size=10, unique_by=lambda r: r[0]))  # fmt: skip
    if kind == "word_list":
        return draw(st.lists(st.tuples(words, st.integers(1, 10**6)), min_size=2, max_size=10,
                             unique_by=lambda r: r[0]))  # fmt: skip
    if kind == "sentences":
        return [(" ".join(ws),) for ws in draw(st.lists(st.lists(words, min_size=1,
                                                                  max_size=6), min_size=2,
                                                         max_size=10))]  # fmt: skip
    return draw(st.lists(st.tuples(words, words), min_size=2, max_size=10))


def line_of(kind: str, record: tuple, draw) -> str:
    if kind == "dictionary":
        return draw(st.sampled_from([" ", "\t", "  ", " \t"])).join(record)
    if kind == "vectors":
        return (
            record[0] + " " + " ".join(str(v) for v in record[1]) + draw(st.sampled_from(["", " "]))
        )
    if kind == "word_list":
        count = draw(st.sampled_from(["", f" {record[1]}", f"\t{record[1]}", f"  {record[1]} x"]))
        return record[0] + count
    if kind == "sentences":
        return record[0]
    return "\t".join(record)


def oddly(record: tuple, draw) -> tuple:
    """Characters that `str.splitlines` / `str.split` would cut at, put inside the first word."""
    word, odd = record[0], draw(st.sampled_from(ODD))
    return (word[:1] + odd + (word[1:] or word), *record[1:])


def content(kind: str, rows: list[tuple], draw) -> list[str]:
    lines = [line_of(kind, r, draw) for r in rows]
    return [f"{len(rows)} {DIM}", *lines] if kind == "vectors" else lines


def broken(kind: str, line: str, draw) -> str:
    """`wrong_fields`: one line with fields the format cannot read."""
    if kind == "dictionary":
        return line + " extra"
    if kind == "pairs":
        return line + "\tthird"
    value = draw(st.sampled_from(["nan", "inf", "-inf", "1e39", "one", ""]))
    fields = line.rstrip(" ").split(" ")
    return " ".join([fields[0], value, *fields[2:]])


def damaged(kind: str, lines: list[str], damage: str, draw) -> tuple[bytes, int | None]:
    """The file's bytes, and the line a refusal must name (None: no particular line)."""
    first = 2 if kind == "vectors" else 1  # the first content line
    at = draw(st.integers(first, len(lines)))  # a content line, numbered from 1
    if damage == "wrong_fields":
        lines[at - 1] = broken(kind, lines[at - 1], draw)
    if damage == "truncated":  # the last line cut inside its first field
        at, lines[-1] = len(lines), lines[-1].split(" ")[0].split("\t")[0]
    if damage == "zero_rows":
        lines = lines[:1] + ["", " "] if kind == "vectors" else ["", "  ", ""]
    text = "\n".join(lines) + "\n"
    if damage == "latin1":  # "é" in Latin-1 at the end of line `at`
        encoded = [line.encode() for line in lines]
        encoded[at - 1] += b"\xe9"
        return b"\n".join(encoded) + b"\n", at
    if damage == "nul":
        start = len("\n".join(lines[: at - 1]).encode()) + (1 if at > 1 else 0)
        offset = draw(st.integers(0, len(lines[at - 1].encode())))
        raw = text.encode()
        return raw[: start + offset] + b"\x00" + raw[start + offset :], at
    if damage == "utf16":
        return text.encode("utf-16"), 1
    if damage == "bom":
        return b"\xef\xbb\xbf" + text.encode(), None
    if damage in ("crlf", "cr"):
        return text.replace("\n", "\r\n" if damage == "crlf" else "\r").encode(), None
    if damage == "mixed_line_ends":
        return "".join(
            line + draw(st.sampled_from(["\n", "\r\n", "\r"])) for line in lines
        ).encode(), None
    return text.encode(), (at if damage in ("wrong_fields", "truncated") else None)


def rows_for(kind: str, rows: list[tuple], damage: str, draw) -> list[tuple]:
    if damage == "huge_line":  # a 1 MB word or sentence: part of what the file says
        rows[0] = (rows[0][0] + "x" * 1_000_000, *rows[0][1:])
    if damage == "odd_characters":
        rows = [oddly(r, draw) for r in rows]
    return rows


def read(kind: str, path: Path):
    """What xlt reads from the file, in the reference's shape."""
    if kind == "dictionary":
        return read_dictionary(path)
    if kind == "vectors":
        got, vectors = read_vec(path, max_vocab=100)
        return list(zip(got, [tuple(v) for v in vectors.tolist()], strict=True))
    if kind == "word_list":
        return read_word_list(path, max_vocab=100)
    if kind == "sentences":
        return read_sentences(path, "corpus")
    source, target = read_pairs(str(path))
    return list(zip(source, target, strict=True))


def reference(kind: str, rows: list[tuple]):
    if kind == "dictionary":
        return sorted(set(rows))
    if kind == "vectors":
        return [(w, tuple(float(np.float32(x)) for x in v)) for w, v in rows]
    if kind == "word_list":
        return [w for w, _ in rows]
    if kind == "sentences":
        return [s for (s,) in rows]
    return rows


def one_case(folder: Path, kind: str, damage: str, rows: list[tuple], draw) -> str:
    """Write one damaged file, read it; the outcome, or an assertion error."""
    rows = rows_for(kind, rows, damage, draw)
    raw, line = damaged(kind, content(kind, rows, draw), damage, draw)
    path = folder / f"{kind}.txt"
    path.write_bytes(raw)
    try:
        got = read(kind, path)
    except XltError as err:
        message = str(err)
        assert not DAMAGES[damage], f"{damage} in a {kind} file should read: {message}"
        assert "\n" not in message and path.name in message, message
        if line is not None:
            assert f" line {line}:" in message, f"{damage} at line {line}: {message}"
        return f"refused: {damage}"
    assert DAMAGES[damage], f"{damage} in a {kind} file was accepted"
    assert got == reference(kind, rows), f"{damage} in a {kind} file read differently"
    return f"read as written: {damage}"


def combinations() -> list[tuple[str, str]]:
    return [(kind, damage) for kind in KINDS for damage in DAMAGES
            if damage not in NOT_CARRIED.get(kind, set())]  # fmt: skip


@pytest.mark.filterwarnings("ignore")
def test_generated_word_and_text_files_are_read_as_written_or_refused_in_one_line(
    tmp_path_factory,
):
    seen: Counter = Counter()
    pairs = combinations()

    def checker(kind: str, damage: str):
        @settings(max_examples=-(-CASES // len(pairs)), derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)  # fmt: skip
        @given(rows=records(kind), data=st.data())
        def check(rows, data) -> None:
            folder = tmp_path_factory.mktemp("files")
            seen[one_case(folder, kind, damage, rows, data.draw)] += 1

        return check

    for kind, damage in pairs:
        checker(kind, damage)()
    print(f"\n{sum(seen.values())} generated files, {len(pairs)} kind x damage pairs:")
    for outcome, count in sorted(seen.items()):
        print(f"  {count:4d}  {outcome}")
    assert sum(seen.values()) >= CASES and len(seen) == len(DAMAGES)
