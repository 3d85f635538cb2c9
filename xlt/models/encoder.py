"""What every model source returns: a transformer encoder and its tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kept out of import time: `xlt-train` checks hub sources before loading torch
    from torch import nn
    from transformers import PreTrainedTokenizerBase


@dataclass
class EncoderBundle:
    encoder: nn.Module  # a transformers model whose output has `last_hidden_state`
    tokenizer: PreTrainedTokenizerBase
    name: str  # what the run logs as the model's identity

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)


def load_from_folder(
    folder: str | Path, name: str, trust_remote_code: bool = False
) -> EncoderBundle:
    from transformers import AutoModel, AutoTokenizer

    # The pooler is never used (xlt pools itself); leaving it out avoids untrained parameters.
    encoder = AutoModel.from_pretrained(
        folder, trust_remote_code=trust_remote_code, add_pooling_layer=False
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    return EncoderBundle(encoder=encoder, tokenizer=tokenizer, name=name)
