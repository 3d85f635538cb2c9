"""Outputs of an encoder's frozen lower layers, computed once per distinct input row and reused
(strategy=freeze_lower with cache_lower=true).

Partial fine-tuning recomputes the frozen embeddings and lower layers for every row in every
epoch and every dev pass, although they cannot change. Run without dropout, their output for a
row depends only on its token ids, so it is kept (per real token, fp32) and the trainable upper
layers start from it. That is the one departure from plain freeze_lower: the frozen layers'
dropout is off, in training too (the measured effect is in the README). Batches, collators and
metrics are untouched: a cached row equals a live pass of the same no-dropout layers up to the
float rounding of another batch's padding (within 1e-5, tested). Memory is bounded: past
`max_bytes` new rows are computed live (still without dropout) and not kept.

A row's key is its token ids, the autocast precision of the call and a digest of the frozen
part's weights taken at first use (after every load): bf16 and fp32 states, or the states of
other weights, are never served for one another.
"""

from __future__ import annotations

import torch
from torch import nn

from xlt.models.feature_cache import FeatureCache, autocast_state, weights_digest


def bidirectional_mask(encoder: nn.Module, states: torch.Tensor, attention_mask: torch.Tensor):
    """The attention mask the encoder's layers expect, built as its own forward builds it."""
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(
        config=encoder.config, inputs_embeds=states, attention_mask=attention_mask
    )


class LowerLayerCache:
    """Per-row outputs of `embeddings` + `layers[:frozen]`; `encode` runs the rest live."""

    def __init__(
        self, encoder: nn.Module, layers: nn.ModuleList, frozen: int, max_bytes: int
    ) -> None:
        self.encoder, self.layers, self.frozen = encoder, layers, frozen
        self.max_bytes, self.bytes = max_bytes, 0
        self.rows: dict[bytes, torch.Tensor] = {}
        self.computed = self.reused = self.not_kept = 0
        self.weights: str | None = None  # digest of the frozen part, taken at first use

    def row_keys(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[bytes]:
        """Token ids, behind the weights digest and the precision they were computed with."""
        if self.weights is None:
            self.weights = weights_digest(nn.ModuleList(self._frozen_part()))
        prefix = f"{self.weights}|{autocast_state(input_ids.device)}|".encode()
        return [prefix + key for key in FeatureCache.row_keys(input_ids, attention_mask)]

    def _frozen_part(self) -> list[nn.Module]:
        return [self.encoder.embeddings, *self.layers[: self.frozen]]

    @torch.no_grad()
    def _lower_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """The frozen part's output, dropout off (and each module's mode restored after)."""
        modes = [module.training for module in self._frozen_part()]
        for module in self._frozen_part():
            module.eval()
        try:
            states = self.encoder.embeddings(input_ids=input_ids)
            mask = bidirectional_mask(self.encoder, states, attention_mask)
            for layer in self.layers[: self.frozen]:
                states = layer(states, mask)
        finally:
            for module, mode in zip(self._frozen_part(), modes, strict=True):
                module.train(mode)
        return states.float()

    def _remember(self, rows: list[int], keys: list[bytes], states, real) -> None:
        for row in rows:
            if keys[row] in self.rows:  # the same row twice in one batch
                continue
            vector = states[row][real[row]].detach().cpu().clone()
            size = vector.numel() * vector.element_size()
            if self.bytes + size > self.max_bytes:
                self.not_kept += 1
                continue
            self.rows[keys[row]], self.bytes = vector, self.bytes + size

    def lower(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[batch, length, hidden] at the first trainable layer; zeros at padding."""
        keys = self.row_keys(input_ids, attention_mask)
        real = attention_mask.bool()
        missing = [i for i, key in enumerate(keys) if key not in self.rows]
        self.computed += len(missing)
        self.reused += len(keys) - len(missing)
        live = self._lower_states(input_ids, attention_mask) if missing else None
        if live is not None:
            self._remember(missing, keys, live, real.cpu())
        hidden = self.encoder.config.hidden_size
        out = torch.zeros(*input_ids.shape, hidden, device=input_ids.device)
        for i, key in enumerate(keys):
            out[i, real[i]] = (
                self.rows[key].to(out.device) if key in self.rows else live[i, real[i]]
            )
        return out

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last-layer states: the cached lower part, then the trainable layers live."""
        states = self.lower(input_ids, attention_mask)
        mask = bidirectional_mask(self.encoder, states, attention_mask)
        for layer in self.layers[self.frozen :]:
            states = layer(states, mask)
        return states

    def stats(self) -> dict[str, float]:
        return {"lower_cache/computed": float(self.computed),
                "lower_cache/reused": float(self.reused),
                "lower_cache/not_kept": float(self.not_kept),
                "lower_cache/mib": self.bytes / 2**20}  # fmt: skip
