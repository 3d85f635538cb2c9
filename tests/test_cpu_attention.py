"""xlt_cpu attention: the computation of SDPA's math path (outputs and gradients), its dropout
exactly softmax x mask / (1 - p), and nothing changed where it hands over to SDPA (evaluation,
serving, saved configs)."""

from __future__ import annotations

import pytest
import torch

from xlt.models import cpu_attention
from xlt.models.cpu_attention import NAME, use_cpu_attention
from xlt.models.fast_dropout import keep_mask
from xlt.models.sources.random_init import build_random_encoder


def _encoder_and_batch():
    bundle = build_random_encoder(init_seed=0)
    texts = ["a short one", "a somewhat longer sentence, with padding after it", "你好"]
    batch = bundle.tokenizer(texts, padding=True, return_tensors="pt")
    return bundle.encoder, {k: batch[k] for k in ("input_ids", "attention_mask")}


def _xlm_r_encoder_and_batch():
    """A small random XLM-R (the hub configs' family), built without the hub."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=300, hidden_size=64, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=128)  # fmt: skip
    ids = torch.randint(5, 300, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    ids[1, 7:] = config.pad_token_id
    encoder = XLMRobertaModel(config, add_pooling_layer=False)
    return encoder, {"input_ids": ids, "attention_mask": mask}


def _forward_backward(encoder, batch):
    """Padding-masked last hidden states and every gradient of a fixed random projection of
    them (not their squares: layer norm makes those nearly constant), dropout off."""
    encoder.eval()
    encoder.zero_grad(set_to_none=True)
    hidden = encoder(**batch).last_hidden_state * batch["attention_mask"][..., None]
    probe = torch.randn(hidden.shape, generator=torch.Generator().manual_seed(0))
    (hidden * probe).sum().backward()
    grads = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}
    return hidden.detach(), grads


def _count_calls(monkeypatch) -> list[int]:
    calls = [0]
    runs_here = cpu_attention.runs_here

    def counted(*args):
        ran = runs_here(*args)
        calls[0] += ran
        return ran

    monkeypatch.setattr(cpu_attention, "runs_here", counted)
    return calls


@pytest.mark.parametrize("build", [_encoder_and_batch, _xlm_r_encoder_and_batch])
def test_a_training_step_computes_what_sdpa_computes(build, monkeypatch):
    """fp32, with a padded row: the same outputs and gradients as transformers' SDPA."""
    encoder, batch = build()
    expected, expected_grads = _forward_backward(encoder, batch)
    keys = list(encoder.state_dict())
    assert use_cpu_attention(encoder) and encoder.config._attn_implementation == NAME
    calls = _count_calls(monkeypatch)
    got, grads = _forward_backward(encoder, batch)
    assert calls[0] == encoder.config.num_hidden_layers
    assert list(encoder.state_dict()) == keys
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert grads.keys() == expected_grads.keys()
    for name, grad in expected_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_its_dropout_is_the_softmax_times_the_mask_over_keep():
    """Forward and backward against the formula, with the mask the same seed draws."""
    p = 0.25
    scores = torch.randn(2, 3, 5, 7, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(7)
    got = cpu_attention._SoftmaxDropout.apply(scores, p)
    torch.manual_seed(7)
    mask = keep_mask(scores.shape, p)
    expected = torch.softmax(scores, -1) * mask / (1 - p)
    torch.testing.assert_close(got, expected)
    assert 0 < (got == 0).float().mean() < 0.5  # some weights dropped, not most
    grad = torch.randn_like(got)
    (got_grad,) = torch.autograd.grad(got, scores, grad)
    (expected_grad,) = torch.autograd.grad(expected, scores, grad)
    torch.testing.assert_close(got_grad, expected_grad)


def test_without_dropout_its_gradient_passes_gradcheck():
    scores = torch.randn(2, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: cpu_attention._SoftmaxDropout.apply(s, 0.0), scores)


def test_evaluation_is_sdpa_bit_for_bit(monkeypatch):
    """No gradients (evaluation, serving): SDPA runs, so what a run evaluates is unchanged."""
    encoder, batch = _encoder_and_batch()
    encoder.eval()
    with torch.inference_mode():
        expected = encoder(**batch).last_hidden_state
    use_cpu_attention(encoder)
    calls = _count_calls(monkeypatch)
    with torch.inference_mode():
        got = encoder(**batch).last_hidden_state
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        encoder(**batch)
    assert calls[0] == 0
    assert torch.equal(got, expected)


def test_it_runs_under_bf16_autocast_with_the_fused_projection(monkeypatch):
    """The default training step's combination: the fused Q/K/V forward calls it too."""
    from xlt_serving.fused_qkv import use_fused_qkv

    encoder, batch = _encoder_and_batch()
    encoder.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = encoder(**batch).last_hidden_state.float()
    use_fused_qkv(encoder)
    use_cpu_attention(encoder)
    calls = _count_calls(monkeypatch)
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = encoder(**batch).last_hidden_state.float()
    got.sum().backward()
    assert calls[0] == encoder.config.num_hidden_layers
    assert got.shape == expected.shape and torch.isfinite(got).all()
    encoder.eval()  # without dropout the two agree to bf16 rounding
    with torch.autocast("cpu", dtype=torch.bfloat16):
        no_drop = encoder(**batch).last_hidden_state.float()
    use_cpu_attention(encoder, enabled=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sdpa = encoder(**batch).last_hidden_state.float()
    torch.testing.assert_close(no_drop, sdpa, rtol=3e-2, atol=3e-2)


def test_lora_encoders_switch_and_saved_configs_do_not_carry_it(tmp_path):
    from peft import LoraConfig, get_peft_model

    encoder, batch = _encoder_and_batch()
    peft_model = get_peft_model(encoder, LoraConfig(r=4, target_modules=["query", "value"]))
    assert use_cpu_attention(peft_model)
    _, grads = _forward_backward(peft_model, batch)
    assert any("lora_A" in name for name in grads)
    encoder.config.save_pretrained(tmp_path)
    assert NAME not in (tmp_path / "config.json").read_text()


def test_other_attention_implementations_are_left_alone():
    encoder, _ = _encoder_and_batch()
    encoder.set_attn_implementation("eager")
    assert not use_cpu_attention(encoder)
    assert encoder.config._attn_implementation == "eager"


def _bf16_grads(encoder, batch) -> dict[str, torch.Tensor]:
    encoder.eval()  # dropout off, gradients on: the kernel runs
    encoder.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        hidden = encoder(**batch).last_hidden_state.float() * batch["attention_mask"][..., None]
    probe = torch.randn(hidden.shape, generator=torch.Generator().manual_seed(0))
    (hidden * probe).sum().backward()
    return {n: p.grad.float().clone() for n, p in encoder.named_parameters() if p.grad is not None}


def test_bf16_gradients_match_the_stock_path(monkeypatch):
    """Under bf16 autocast, xlt_cpu attention with the fused projection gives the gradients of
    transformers' own SDPA path, to bf16's precision (relative to each gradient's size)."""
    from xlt_serving.fused_qkv import use_fused_qkv

    encoder, batch = _encoder_and_batch()
    stock = _bf16_grads(encoder, batch)
    use_fused_qkv(encoder)
    use_cpu_attention(encoder)
    calls = _count_calls(monkeypatch)
    custom = _bf16_grads(encoder, batch)
    assert calls[0] == encoder.config.num_hidden_layers
    assert custom.keys() == stock.keys()
    # A key bias's gradient is zero in exact arithmetic (it shifts a whole row of scores,
    # which softmax ignores): its rounding noise is measured against the largest gradient.
    floor = 1e-3 * max(grad.norm() for grad in stock.values())
    for name, grad in stock.items():
        error = (custom[name] - grad).norm() / (grad.norm() + floor)
        assert error < 0.05, f"{name}: relative error {error:.3f}"


@pytest.mark.parametrize(
    ("heads", "extra"),
    [
        (4, {"sliding_window": 2}),
        (4, {"softcap": 30.0}),
        (4, {"s_aux": torch.zeros(4)}),
        (2, {}),
    ],  # fmt: skip
    ids=["sliding_window", "softcap", "sinks", "grouped_query_heads"],
)
def test_what_it_does_not_implement_goes_to_sdpa(heads, extra, monkeypatch):
    """An argument it does not know, or fewer key heads than query heads, is SDPA's call."""
    handed_over = []

    def sdpa(*args, **kwargs):
        handed_over.append(kwargs)
        return None, None

    monkeypatch.setattr(cpu_attention, "sdpa_attention_forward", sdpa)
    module = torch.nn.Module()
    query = torch.randn(1, 4, 5, 8, requires_grad=True)
    key = value = torch.randn(1, heads, 5, 8)
    cpu_attention.cpu_attention(module, query, key, value, None, dropout=0.1, **extra)
    assert len(handed_over) == 1 and set(extra) <= set(handed_over[0])
    cpu_attention.cpu_attention(module, query, torch.randn(1, 4, 5, 8), value[:, :1].expand(
        1, 4, 5, 8), None, dropout=0.1)  # fmt: skip
    assert len(handed_over) == 1  # a plain call runs here
