"""Users' own text files: one place for "is it there, is it UTF-8, is it empty",
the sentence files of task=bitext (aligned pairs, unaligned pools) and MAD-X corpora."""

from __future__ import annotations

from pathlib import Path

from xlt.errors import DataError


def read_lines(path: str | Path, what: str) -> list[str]:
    """The file's lines (trailing newlines and a byte-order mark removed); `what` names the
    file in errors ("dictionary file", "pool")."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
    return text.splitlines()


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
                raise DataError(f"{spec}:{number}: expected 'source<TAB>target', got "
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
