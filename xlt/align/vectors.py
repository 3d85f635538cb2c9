"""Word vectors from fastText's text format (`.vec`: a `count dimension` header, then a word and
its floats per line, most frequent words first), read as a stream up to `max_vocab` words, so a
2M-word file costs only the words kept. File order is kept: it is the frequency order that
MUSE's adversarial mapping and unsupervised criterion assume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from xlt.data.text_files import fields_of, stream_lines
from xlt.errors import DataError


def read_vec(path: str | Path, max_vocab: int) -> tuple[list[str], torch.Tensor]:
    """(words in file order, a float32 matrix); a repeated word keeps its first vector. UTF-8
    only, a BOM and any line ends accepted; a line that is not a word and `dimension` finite
    numbers is refused at its number."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"vectors file not found: {path}")
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    lines = stream_lines(path)
    dim = _header(path, next(lines, (1, ""))[1])
    for number, line in lines:
        if len(words) >= max_vocab:
            break
        word, vector = _parse(path, number, line, dim)
        if word is not None and word not in seen:
            seen.add(word)
            words.append(word)
            rows.append(vector)
    if not words:
        raise DataError(f"{path}: no word vectors after the header")
    return words, torch.from_numpy(np.stack(rows))


def _header(path: Path, line: str) -> int:
    fields = line.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields) or int(fields[1]) < 1:
        raise DataError(f"{path} line 1: expected fastText's header 'count dimension' (two "
                        f"positive integers), got {line.strip()[:60]!r}")  # fmt: skip
    return int(fields[1])


def _parse(path: Path, number: int, line: str, dim: int) -> tuple[str | None, np.ndarray]:
    """A word and its numbers, separated by single spaces (fastText writes one after the last
    number too); a blank line is skipped."""
    fields = line.rstrip(" ").split(" ")
    if len(fields) == 1 and not fields[0]:
        return None, np.empty(0)
    if len(fields) != dim + 1:
        raise DataError(f"{path} line {number}: expected a word and {dim} numbers, got "
                        f"{len(fields) - 1} numbers")  # fmt: skip
    try:
        vector = np.asarray(fields[1:], dtype=np.float32)
    except ValueError:
        raise DataError(f"{path} line {number}: a value of {fields[0]!r} is not a number") from None
    if not np.isfinite(vector).all():
        raise DataError(f"{path} line {number}: a value of {fields[0]!r} is not finite "
                        "(nan, inf, or beyond float32's range)")  # fmt: skip
    return fields[0], vector


def read_word_list(path: str | Path, max_vocab: int) -> list[str]:
    """A vocabulary file: one word per line (extra fields after a space or tab, such as a
    count, are ignored), most frequent first; the first `max_vocab` distinct words."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"vocabulary file not found: {path}")
    words: dict[str, None] = {}
    for _, line in stream_lines(path):
        if fields := fields_of(line):
            words.setdefault(fields[0])
        if len(words) >= max_vocab:
            break
    if not words:
        raise DataError(f"{path}: no words in it")
    return list(words)


def write_vec(path: Path, words: list[str], vectors: torch.Tensor) -> Path:
    """fastText's text format: `count dimension`, then a word and its floats per line."""
    with Path(path).open("w", encoding="utf-8") as out:
        out.write(f"{len(words)} {vectors.shape[1]}\n")
        for word, row in zip(words, vectors.tolist(), strict=True):
            out.write(word + " " + " ".join(f"{v:.6f}" for v in row) + "\n")
    return Path(path)


def frequency_words(lang: str, n: int) -> list[str]:
    """The `n` most frequent words of a language, offline: jieba's own dictionary (word and
    count per line) for Chinese, the `wordfreq` package's list for the others; entries without
    a letter (numbers, punctuation) are left out."""
    if lang == "zh":
        import jieba

        counts = []
        with open(jieba.get_dict_file().name, encoding="utf-8") as lines:
            for line in lines:
                word, count, *_ = line.split()
                counts.append((-int(count), word))
        ranked = [word for _, word in sorted(counts)]
    else:
        from wordfreq import available_languages, top_n_list

        if lang not in available_languages():
            raise DataError(f"no offline frequency list for {lang!r}: give "
                            f"task.vocabulary.{{source,target}}=PATH (a word list)")  # fmt: skip
        ranked = top_n_list(lang, n * 2)
    return [w for w in ranked if any(ch.isalpha() for ch in w)][:n]
