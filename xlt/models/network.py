"""The network every strategy trains: a pretrained encoder and a linear head.

Strategies may add language-specific heads (routed by each example's language, jiant-style)
and extra modules (a language discriminator), which then train and checkpoint with the rest.
Each task family's network (xlt/models/classifier.py, xlt/models/heads.py) subclasses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from xlt.config.schema import Pooling
from xlt.models.feature_cache import FeatureCache
from xlt.models.lower_cache import LowerLayerCache
from xlt.models.pooling import pool


def encoder_architecture(encoder: nn.Module, source: str | None) -> dict[str, object]:
    """What frozen weights depend on: the encoder's shape and the model source they come from."""
    c = encoder.config
    return {
        "model_type": c.model_type,
        "hidden_size": c.hidden_size,
        "num_hidden_layers": c.num_hidden_layers,
        "vocab_size": c.vocab_size,
        "source": source,
    }


class TransferNetwork(nn.Module):
    """An encoder with a linear head, and what strategies act on: embedding freezing, a frozen
    encoder (fixed features), per-language heads, strategy-owned extras, and the record a
    checkpoint must match. Task families subclass it with their forward pass."""

    def __init__(
        self,
        encoder: nn.Module,
        num_labels: int,
        pooling: Pooling = Pooling.mean,
        head_dropout: float = 0.1,
        freeze_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = Pooling(pooling)
        self.dropout = nn.Dropout(head_dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        self.language_heads = nn.ModuleDict()  # empty unless a strategy adds per-language heads
        self.extras = nn.ModuleDict()  # strategy-owned modules, e.g. a language discriminator
        self.fallback_lang: str | None = None  # whose head a language without one uses
        # per-language encoder parts (MAD-X's language adapters): told each batch's language
        self.language_router: Callable[[str | None], None] | None = None
        self.encoder_frozen = False
        self.feature_cache: FeatureCache | None = None  # set with a frozen encoder (linear probe)
        self.lower_cache: LowerLayerCache | None = None  # frozen lower layers (freeze_lower)
        self.source: str | None = None  # fingerprint of the model source (frozen weights' origin)
        self.train()  # from_pretrained returns eval mode; fine-tuning needs the encoder's dropout
        if freeze_embeddings:
            # The word-embedding table is most of a multilingual model (96 M of e5-small's 118 M):
            # freezing it keeps the languages' shared vocabulary space intact and training fast.
            self.encoder.get_input_embeddings().weight.requires_grad_(False)

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    def freeze_encoder(self) -> None:
        """Fixed features: no gradients, and dropout off so the features are deterministic."""
        self.encoder.requires_grad_(False)
        self.encoder_frozen = True
        self.encoder.eval()

    def train(self, mode: bool = True) -> TransferNetwork:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def add_language_heads(self, languages: Sequence[str], fallback: str) -> None:
        for lang in languages:
            self.language_heads[lang] = nn.Linear(self.hidden_size, self.head.out_features)
        self.fallback_lang = fallback

    def token_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        langs: Sequence[str] | str | None = None,
    ) -> torch.Tensor:
        """Last-layer states; where a strategy added per-language encoder parts (MAD-X's
        language adapters), each language's rows are read through its own."""
        if self.language_router is None or langs is None or isinstance(langs, str):
            if self.language_router is not None:
                self.language_router(langs)
            return self.encode_tokens(input_ids, attention_mask)
        states = None
        for lang in sorted(set(langs)):  # a mixed batch (translate-train): one pass per language
            rows = torch.tensor([i for i, x in enumerate(langs) if x == lang],
                                device=input_ids.device)  # fmt: skip
            self.language_router(lang)
            part = self.encode_tokens(input_ids[rows], attention_mask[rows])
            if states is None:
                states = part.new_zeros(input_ids.shape[0], *part.shape[1:])
            states = states.index_copy(0, rows, part)
        return states

    def encode_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.lower_cache is not None:  # frozen lower layers' outputs, computed once per row
            return self.lower_cache.encode(input_ids, attention_mask)
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def embed(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        langs: Sequence[str] | str | None = None,
    ) -> torch.Tensor:
        if self.feature_cache is not None:  # a frozen encoder's features, computed once per row
            return self.feature_cache.pooled(self, input_ids, attention_mask)
        states = self.token_states(input_ids, attention_mask, langs)
        return pool(states, attention_mask, self.pooling)

    def architecture(self) -> dict[str, object]:
        """What a checkpoint must match to be loaded into this network."""
        return {
            **encoder_architecture(self.encoder, self.source),
            "num_labels": self.head.out_features,
        }

    def count_parameters(self) -> tuple[int, int]:
        """(trainable, total)."""
        params = list(self.parameters())
        return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
