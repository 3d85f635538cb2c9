"""What strategies and the module promise about parameters, checked on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from xlt.models.classifier import SequenceClassifier
from xlt.models.sources.random_init import build_random_encoder
from xlt.strategies.linear_probe import LinearProbe
from xlt.strategies.zero_shot import ZeroShot
from xlt.tasks.classification import Classification
from xlt.training.module import TransferModule


def tiny_net(freeze_embeddings: bool = False) -> tuple[SequenceClassifier, object]:
    torch.manual_seed(0)
    bundle = build_random_encoder()
    return SequenceClassifier(bundle.encoder, 3, freeze_embeddings=freeze_embeddings), bundle


def one_step(net: SequenceClassifier, tokenizer) -> None:
    batch = tokenizer(["hello world", "你好世界", "bye"], padding=True, return_tensors="pt")
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2)
    loss = F.cross_entropy(
        net(batch["input_ids"], batch["attention_mask"]), torch.tensor([0, 1, 2])
    )
    loss.backward()
    opt.step()


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_frozen_embeddings_are_bit_identical_after_a_step_and_the_rest_moves():
    net, bundle = tiny_net(freeze_embeddings=True)
    before = snapshot(net)
    one_step(net, bundle.tokenizer)
    after = net.state_dict()
    emb = "encoder.embeddings.word_embeddings.weight"
    assert torch.equal(before[emb], after[emb])
    assert not torch.equal(
        before["encoder.encoder.layer.0.attention.self.query.weight"],
        after["encoder.encoder.layer.0.attention.self.query.weight"],
    )


def test_linear_probe_trains_only_the_head_with_dropout_off_in_the_encoder():
    net, bundle = tiny_net()
    LinearProbe(optimizer=torch.optim.AdamW).prepare(net)
    net.train()
    assert not net.encoder.training and net.head.training
    before = snapshot(net.encoder)
    one_step(net, bundle.tokenizer)
    assert all(torch.equal(before[k], v) for k, v in net.encoder.state_dict().items())
    trainable, total = net.count_parameters()
    assert trainable == 32 * 3 + 3 and total > trainable


def test_zero_shot_trains_on_the_source_language_only():
    strategy = ZeroShot(optimizer=torch.optim.AdamW)
    assert strategy.train_languages("en", ["zh", "de"]) == ["en"]


def test_checkpoints_hold_trainable_weights_only_and_refuse_a_mismatched_model():
    net, _ = tiny_net(freeze_embeddings=True)
    scorers = {("dev", "en"): Classification().scorer(["a", "b", "c"], {"id": ["0"]}, None)}
    module = TransferModule(
        net,
        Classification(),
        scorers,
        ZeroShot(torch.optim.AdamW),
        [("dev", "en")],
        [],
        "en",
        ["zh"],
    )
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    assert "net.encoder.embeddings.word_embeddings.weight" not in checkpoint["state_dict"]
    assert "net.head.weight" in checkpoint["state_dict"]
    module.on_load_checkpoint(checkpoint)  # the same config loads
    del checkpoint["state_dict"]["net.head.weight"]
    with pytest.raises(RuntimeError, match="lacks 1 trainable weights"):
        module.on_load_checkpoint(checkpoint)


def test_optimizer_and_schedule_come_from_the_strategy_config(compose_cfg):
    cfg = compose_cfg("model=tiny_random")
    strategy = instantiate(cfg.strategy)
    opt = strategy.optimizer([torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["lr"] == cfg.strategy.optimizer.lr
    schedule = strategy.scheduler(opt, total_steps=100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert lrs[0] < lrs[9] == pytest.approx(cfg.strategy.optimizer.lr)  # 10% warm-up
    assert lrs[-1] < lrs[50] < lrs[10]


def test_bf16_mixed_trains_with_fused_adamw_and_clips_gradients(compose_cfg, monkeypatch):
    """trainer=gpu's precision with the strategies' fused AdamW and gradient clipping (Lightning
    alone refuses that pair); on CPU bf16 autocast runs too (AMX)."""
    from xlt.pipeline import run

    norms: list[float] = []
    clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_",
                        lambda params, max_norm, *a, **k: norms.append(max_norm) or clip(
                            params, max_norm, *a, **k))  # fmt: skip
    cfg = compose_cfg("model=tiny_random", "dataset.limit=40", "trainer.max_epochs=1",
                      "trainer.precision=bf16-mixed",
                      "trainer.enable_progress_bar=false")  # fmt: skip
    assert cfg.strategy.optimizer.fused and cfg.trainer.gradient_clip_val == 1.0
    results = run(cfg)
    assert "test/acc/zh" in results["test"] and norms and set(norms) == {1.0}


def test_the_default_precision_is_chosen_for_this_machine_and_tagged(compose_cfg, monkeypatch):
    import mlflow

    from xlt.pipeline import run
    from xlt.training.precision import fastest_precision

    cfg = compose_cfg("model=tiny_random", "dataset.limit=40", "trainer.max_epochs=1",
                      "trainer.enable_progress_bar=false", as_user=True)  # fmt: skip
    expected = fastest_precision(cfg.trainer.accelerator)
    assert "test/acc/zh" in run(cfg)["test"]
    client = mlflow.MlflowClient(cfg.logger.tracking_uri)
    (only,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert only.data.tags["precision"] == expected
    assert only.data.tags["precision.chosen"] == "auto"
    meta = json.loads((Path(only.data.tags["output_dir"]) / "model" / "xlt_model.json").read_text())
    assert meta["precision"] == ("bf16" if expected.startswith("bf16") else "fp32")


def test_prediction_precision_follows_the_run_unless_asked(monkeypatch):
    """xlt-predict's default reads as the run evaluated (its predictions are reproduced)."""
    from xlt_serving.runtime import uses_bf16

    assert not uses_bf16("run", "fp32") and uses_bf16("run", "bf16")
    assert uses_bf16("bf16", "fp32") and not uses_bf16("fp32", "bf16")
    for units in (False, True):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda u=units: u, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
        assert uses_bf16("auto") is units
    with pytest.raises(ValueError, match="use one of run, auto, bf16, fp32"):
        uses_bf16("fp16")


@pytest.mark.slow
def test_compile_trains_and_keeps_checkpoint_names(compose_cfg):
    """`compile=true` compiles the encoder in place: the checkpoint's parameter names are the
    eager model's, so compiled and eager runs load each other's checkpoints."""
    from xlt.pipeline import run

    cfg = compose_cfg("model=tiny_random", "dataset.limit=40", "trainer.max_epochs=1",
                      "compile=true", "trainer.enable_progress_bar=false")  # fmt: skip
    results = run(cfg)
    assert "test/acc/zh" in results["test"]
    (best,) = Path(cfg.paths.output_dir, "checkpoints").glob("best*.ckpt")
    names = torch.load(best, weights_only=True)["state_dict"]
    assert names and not any("_orig_mod" in name for name in names)
