"""Attention for CPU training steps, registered with transformers as the "xlt_cpu" implementation.

A training step under dropout runs SDPA's math path on CPU, and that path is slow on the short
rows cross-lingual benchmarks have (HSK: 13 tokens on average). Its softmax over a 13-wide row
took 475 us for one layer's 32 x 12 x 13 x 13 scores where `exp` over the same tensor took 9 us,
and its dropout draws one `bernoulli_` per attention weight. Here the same computation (fp32
scores, softmax, dropout, fp32 weighted sum, as SDPA's math path does it) runs the softmax as
vectorised passes (max, exp, sum, divide) with dropout folded into the same autograd node, its
mask drawn four to a 64-bit random word (xlt/models/fast_dropout.py). Measured on the 2-core
CPU (docs/benchmarks.md): one layer's attention forward and backward 1.04-1.41x SDPA's at 8 to
128 tokens; a whole me5_small training step 1.056x in bf16, 1.038x in fp32.

Only gradient-recording calls run here. Evaluation and serving (no gradients) hand over to
transformers' SDPA, whose fused CPU kernel is faster without dropout: what a run evaluates and
what its logged model serves are computed exactly as before. So are calls on other devices,
causal attention and attention-weight outputs. Parameters and state dicts are untouched: only
the encoder's `config._attn_implementation` changes, and transformers does not save it.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

from xlt.models.fast_dropout import keep_mask

NAME = "xlt_cpu"


class _SoftmaxDropout(torch.autograd.Function):
    """softmax(scores) over the last dim, then dropout, as one node: it saves the
    probabilities and the mask, and its backward is the two passes both need."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, p: float) -> torch.Tensor:
        probs = (scores - scores.amax(-1, keepdim=True)).exp_()
        probs = probs.div_(probs.sum(-1, keepdim=True))
        mask, scale = None, 1.0
        if p > 0.0:
            mask, scale = keep_mask(probs.shape, p), 1.0 / (1.0 - p)
        ctx.save_for_backward(probs, mask)
        ctx.scale = scale
        if mask is None:
            return probs
        return torch.ops.aten.native_dropout_backward(probs, mask, scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        probs, mask = ctx.saved_tensors
        if mask is not None:
            grad = torch.ops.aten.native_dropout_backward(grad, mask, ctx.scale)
        return probs * (grad - (grad * probs).sum(-1, keepdim=True)), None


def additive_bias(mask: torch.Tensor | None) -> torch.Tensor | None:
    """transformers' sdpa mask (bool, True = attend; or already additive) as an fp32 bias.
    A masked key gets float32's lowest value, not -inf, so no row can turn into NaN."""
    if mask is None or mask.dtype != torch.bool:
        return None if mask is None else mask.float()
    bias = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
    return bias.masked_fill_(~mask, torch.finfo(torch.float32).min)


def runs_here(module: nn.Module, query: torch.Tensor, key: torch.Tensor, kwargs: dict) -> bool:
    """Whether this call is one the kernel implements (a CPU training step of plain
    bidirectional multi-head attention); SDPA takes every other call. Any argument it does not
    know (softcap, sinks, a sliding window, a position bias, causal masking...) that is set
    sends the call to SDPA, as do grouped-query heads (fewer key heads than query heads)."""
    if query.device.type != "cpu" or not torch.is_grad_enabled():
        return False
    if getattr(module, "is_causal", False) or key.shape[1] != query.shape[1]:
        return False
    return not any(value is not None and value is not False for value in kwargs.values())


def cpu_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function contract: (batch, heads, length, head size) in,
    (batch, length, heads, head size) out, no attention weights."""
    if not runs_here(module, query, key, kwargs):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    with torch.autocast("cpu", enabled=False):  # fp32 scores and sums, as SDPA's math path
        scores = torch.matmul(query.float() * scaling, key.float().transpose(-1, -2))
        bias = additive_bias(attention_mask)
        if bias is not None:
            scores = scores.add_(bias)
        probs = _SoftmaxDropout.apply(scores, dropout)
        output = torch.matmul(probs, value.float()).to(query.dtype)
    return output.transpose(1, 2).contiguous(), None


def register() -> None:
    """Makes "xlt_cpu" a name transformers' models accept (masks built as for SDPA)."""
    AttentionInterface.register(NAME, cpu_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)


def use_cpu_attention(encoder: nn.Module, enabled: bool = True) -> bool:
    """Switches a transformers encoder that runs SDPA to this kernel (`enabled=False`: back to
    SDPA). Returns whether the encoder now runs it; other implementations are left alone."""
    current = getattr(getattr(encoder, "config", None), "_attn_implementation", None)
    if current not in ("sdpa", NAME) or not hasattr(encoder, "set_attn_implementation"):
        return False
    register()
    encoder.set_attn_implementation(NAME if enabled else "sdpa")
    return enabled
