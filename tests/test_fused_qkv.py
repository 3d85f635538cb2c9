"""Fused Q/K/V projection: the same self-attention (outputs, gradients, parameters, state dict)
as the stock forward; it runs under autocast only, and peft's LoRA layers still take part (the
stock forward runs there)."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from xlt.models.sources.random_init import build_random_encoder
from xlt_serving.fused_qkv import FusedQKVMixin, use_fused_qkv


def _encoder_and_batch(seed: int = 0):
    bundle = build_random_encoder(init_seed=seed)
    texts = ["a short one", "a somewhat longer sentence, with padding after it", "你好"]
    batch = bundle.tokenizer(texts, padding=True, return_tensors="pt")
    return bundle.encoder, {
        "input_ids": batch["input_ids"],
        "attention_mask": batch["attention_mask"],
    }


def _forward_backward(encoder, batch, **autocast):
    """Last hidden states (padding kept out) and every parameter's gradient (no dropout)."""
    encoder.eval()
    encoder.zero_grad(set_to_none=True)
    with torch.autocast("cpu", **autocast):
        hidden = encoder(**batch).last_hidden_state
    hidden = hidden.float() * batch["attention_mask"][..., None]
    (hidden.square().sum()).backward()
    grads = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}
    return hidden.detach(), grads


def _count_fused_calls(monkeypatch, force: bool = False) -> list[int]:
    """How often the fused projection ran; `force`: also without autocast (fp32 checks)."""
    calls = [0]
    should_fuse = FusedQKVMixin._should_fuse

    def counted(self, hidden_states):
        fused = force or should_fuse(self, hidden_states)
        calls[0] += fused
        return fused

    monkeypatch.setattr(FusedQKVMixin, "_should_fuse", counted)
    return calls


def test_fused_attention_equals_the_stock_one_in_outputs_and_gradients(monkeypatch):
    encoder, batch = _encoder_and_batch()
    calls = _count_fused_calls(monkeypatch, force=True)
    keys = list(encoder.state_dict())
    stock_out, stock_grads = _forward_backward(encoder, batch, enabled=False)
    layers = encoder.config.num_hidden_layers
    assert use_fused_qkv(encoder) == layers
    assert sum(isinstance(m, FusedQKVMixin) for m in encoder.modules()) == layers
    assert list(encoder.state_dict()) == keys  # checkpoints and peft targets unchanged
    fused_out, fused_grads = _forward_backward(encoder, batch, enabled=False)
    assert calls[0] == layers
    torch.testing.assert_close(fused_out, stock_out, rtol=1e-5, atol=1e-6)
    assert fused_grads.keys() == stock_grads.keys()
    for name, grad in stock_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    assert use_fused_qkv(encoder, fused=False) == layers
    assert not any(isinstance(m, FusedQKVMixin) for m in encoder.modules())


def test_it_runs_under_bf16_autocast_only_and_matches_the_stock_attention_there(monkeypatch):
    encoder, batch = _encoder_and_batch()
    stock_out, _ = _forward_backward(encoder, batch, dtype=torch.bfloat16)
    stock_fp32, _ = _forward_backward(encoder, batch, enabled=False)
    use_fused_qkv(encoder)
    calls = _count_fused_calls(monkeypatch)
    assert torch.equal(_forward_backward(encoder, batch, enabled=False)[0], stock_fp32)
    assert calls[0] == 0  # fp32: the stock forward, bit for bit
    fused_out, _ = _forward_backward(encoder, batch, dtype=torch.bfloat16)
    assert calls[0] == encoder.config.num_hidden_layers
    torch.testing.assert_close(fused_out, stock_out, rtol=2e-2, atol=2e-2)


def test_lora_wrapped_projections_take_the_stock_path_and_keep_their_adapter(monkeypatch):
    from peft import LoraConfig, get_peft_model

    encoder, batch = _encoder_and_batch()
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=False
    )
    peft_model = get_peft_model(encoder, config)
    expected, _ = _forward_backward(peft_model, batch, dtype=torch.bfloat16)
    assert use_fused_qkv(peft_model) == encoder.config.num_hidden_layers
    calls = _count_fused_calls(monkeypatch)
    got, grads = _forward_backward(peft_model, batch, dtype=torch.bfloat16)
    assert calls[0] == 0
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert any("lora_B" in name and grad.abs().sum() > 0 for name, grad in grads.items())


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_a_fused_encoder_copies_and_pickles(copier):
    encoder, batch = _encoder_and_batch()
    use_fused_qkv(encoder)
    expected, _ = _forward_backward(encoder, batch, dtype=torch.bfloat16)
    clone = copier(encoder)
    assert sum(isinstance(m, FusedQKVMixin) for m in clone.modules()) == len(encoder.encoder.layer)
    got, _ = _forward_backward(clone, batch, dtype=torch.bfloat16)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("fused", [True, False])
def test_a_served_model_computes_with_the_projection_its_run_used(tmp_path, fused):
    """The model folder records whether the run fused; xlt_serving's loader follows it, so a
    bf16 run's served model reads text exactly as the run evaluated it."""
    import json

    from xlt_serving.bundle import ENCODER_DIR, META_FILE, ModelMeta, load_encoder

    encoder, batch = _encoder_and_batch()
    use_fused_qkv(encoder, fused=fused)
    expected, _ = _forward_backward(encoder, batch, dtype=torch.bfloat16)
    encoder.config.save_pretrained(tmp_path / ENCODER_DIR)
    ModelMeta(task="classification", labels=["a", "b"], fused_qkv=fused).save(tmp_path)
    weights = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    served = load_encoder(tmp_path, ModelMeta.load(tmp_path), weights)
    layers = encoder.config.num_hidden_layers
    assert sum(isinstance(m, FusedQKVMixin) for m in served.modules()) == (layers if fused else 0)
    got, _ = _forward_backward(served, batch, dtype=torch.bfloat16)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    older = json.loads((tmp_path / META_FILE).read_text())
    older.pop("fused_qkv")  # a folder written before the field existed: its run did not fuse
    (tmp_path / META_FILE).write_text(json.dumps(older))
    assert ModelMeta.load(tmp_path).fused_qkv is False


def test_an_xlm_r_encoder_fuses_with_the_same_results(monkeypatch):
    """The hub configs' XLM-R (xlm-roberta-base/large) has its own self-attention class: a small
    randomly initialised one, built here without the hub, fuses to the same outputs."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=300, hidden_size=64, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=128)  # fmt: skip
    encoder = XLMRobertaModel(config, add_pooling_layer=False)
    ids = torch.randint(5, 300, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    ids[1, 7:] = config.pad_token_id
    batch = {"input_ids": ids, "attention_mask": mask}
    stock_out, stock_grads = _forward_backward(encoder, batch, enabled=False)
    assert use_fused_qkv(encoder) == 2
    calls = _count_fused_calls(monkeypatch, force=True)
    fused_out, fused_grads = _forward_backward(encoder, batch, enabled=False)
    assert calls[0] == 2
    torch.testing.assert_close(fused_out, stock_out, rtol=1e-5, atol=1e-6)
    for name, grad in stock_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
