"""A tiny randomly initialised BERT with a byte-level tokenizer, built from config alone.

Fast tests and smoke runs use it: it needs no files, handles any script (Chinese bytes included)
and runs the same code path as the real encoders.
"""

from __future__ import annotations

from typing import Annotated

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

from xlt.config.bounds import Range
from xlt.models.encoder import EncoderBundle

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def byte_level_tokenizer(model_max_length: int = 512):
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(SPECIALS + sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        cls_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<unk>",  # byte-level text never yields <unk>: masked LM (MAD-X) masks with it
        model_max_length=model_max_length,
    )


def build_random_encoder(
    hidden_size: Annotated[int, Range(ge=1)] = 32,
    num_layers: Annotated[int, Range(ge=1)] = 2,
    num_heads: Annotated[int, Range(ge=1)] = 2,
    intermediate_size: Annotated[int, Range(ge=1)] = 64,
    max_positions: Annotated[int, Range(ge=8)] = 512,
    init_seed: Annotated[int, Range(ge=0)] = 0,
) -> EncoderBundle:
    """A small BERT whose weights depend on `init_seed` alone (like a pretrained source they
    are the same in every run, so weights a run kept frozen can be rebuilt from it); torch's
    global generator is left as it was."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = byte_level_tokenizer(max_positions)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
    )
    name = f"tiny-random-bert-h{hidden_size}-l{num_layers}-a{num_heads}-i{intermediate_size}"
    tokenizer.name_or_path = name
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = BertModel(config, add_pooling_layer=False)
    return EncoderBundle(model, tokenizer, name=name)
