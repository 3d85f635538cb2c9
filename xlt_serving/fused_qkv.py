"""Query, key and value projections as one matmul, fused at run time, under autocast.

A BERT-style self-attention projects its input three times (query, key, value: three
hidden x hidden matmuls, and under bf16 autocast three casts of the same input). Here they run
as one hidden x 3*hidden matmul on the three weights concatenated at call time: the parameters,
their names, checkpoints, logged models and peft's `target_modules` stay exactly as they were.
Measured on the 2-core CPU (me5_small, HSK, docs/benchmarks.md): under bf16 autocast 1.044x a
training step (`benchmarks/step_pairs.py --compare fused_qkv`) and 1.046x evaluation; in fp32
1.00x a training step and 0.97x evaluation, so without autocast the stock forward runs.

Where a projection is not a plain `nn.Linear` (peft wrapped it in a LoRA layer), or a cache is
passed (decoder use), the stock forward runs too, so adapters keep working unchanged.

It lives in xlt_serving because a logged model must compute as its run evaluated: training
(xlt/components.py) and the served model (bundle.load_encoder, when the model folder says the
run fused) switch their encoders with the same `use_fused_qkv`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.bert import modeling_bert
from transformers.models.xlm_roberta import modeling_xlm_roberta


def _plain_projections(attention: nn.Module) -> bool:
    return all(type(getattr(attention, n)) is nn.Linear for n in ("query", "key", "value"))


class FusedQKVMixin:
    """The forward of a transformers 5 BERT-family self-attention with one projection matmul."""

    eager_attention = None  # the model family's own eager attention (the stock fallback)

    def forward(self, hidden_states, attention_mask=None, cache=None, **kwargs):
        if cache is not None or not self._should_fuse(hidden_states):
            return super().forward(hidden_states, attention_mask, cache=cache, **kwargs)
        batch, length, _ = hidden_states.shape
        weight = torch.cat([self.query.weight, self.key.weight, self.value.weight])
        bias = torch.cat([self.query.bias, self.key.bias, self.value.bias])
        qkv = F.linear(hidden_states, weight, bias)
        qkv = qkv.view(batch, length, 3, self.num_attention_heads, self.attention_head_size)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        output, weights = self._attention_function()(
            self, query, key, value, attention_mask,
            dropout=self.dropout.p if self.training else 0.0, scaling=self.scaling, **kwargs,
        )  # fmt: skip
        return output.reshape(batch, length, -1).contiguous(), weights

    def _should_fuse(self, hidden_states: torch.Tensor) -> bool:
        """Under autocast (where it pays), with plain projections (not LoRA-wrapped ones)."""
        return torch.is_autocast_enabled(hidden_states.device.type) and _plain_projections(self)

    def _attention_function(self):
        """The same attention kernel the stock forward picks (sdpa, eager, ...)."""
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        return ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, type(self).eager_attention
        )


class FusedBertSelfAttention(FusedQKVMixin, modeling_bert.BertSelfAttention):
    eager_attention = staticmethod(modeling_bert.eager_attention_forward)


class FusedXLMRobertaSelfAttention(FusedQKVMixin, modeling_xlm_roberta.XLMRobertaSelfAttention):
    eager_attention = staticmethod(modeling_xlm_roberta.eager_attention_forward)


FUSED: dict[type, type] = {
    modeling_bert.BertSelfAttention: FusedBertSelfAttention,
    modeling_xlm_roberta.XLMRobertaSelfAttention: FusedXLMRobertaSelfAttention,
}


def use_fused_qkv(module: nn.Module, fused: bool = True) -> int:
    """Switches every BERT / XLM-R self-attention inside `module` to the fused forward
    (`fused=False`: back to the stock one); only their class changes: same parameters, same
    state dict. Returns how many were switched; other encoders are left as they are."""
    wanted = FUSED if fused else {v: k for k, v in FUSED.items()}
    swapped = 0
    for child in module.modules():
        target = wanted.get(type(child))
        if target is not None:
            child.__class__ = target
            swapped += 1
    return swapped
