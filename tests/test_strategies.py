"""Transfer strategies: the mechanics each one promises, checked on a tiny model and real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from tests.conftest import compose_train
from xlt.data.sources.hsk import load_hsk
from xlt.errors import ConfigError
from xlt.models.classifier import SequenceClassifier
from xlt.models.gradient_reversal import reverse_gradient
from xlt.models.sources.random_init import build_random_encoder
from xlt.strategies.base import Stage, StepContext
from xlt.strategies.sampling import TemperatureBatchSampler, k_per_class, temperature_probabilities
from xlt.tasks.classification import Classification
from xlt.training.checkpoints import load_weights
from xlt.training.module import TransferModule


def strategy(name: str, *overrides: str):
    return instantiate(
        compose_train([f"strategy={name}", "model=tiny_random", *overrides]).strategy
    )


def tiny_net(num_labels: int = 3) -> tuple[SequenceClassifier, object]:
    torch.manual_seed(0)
    bundle = build_random_encoder()
    return SequenceClassifier(bundle.encoder, num_labels), bundle.tokenizer


def step(net: SequenceClassifier, tokenizer, groups=None, lr: float = 1e-2) -> None:
    batch = tokenizer(["hello world", "你好世界", "bye"], padding=True, return_tensors="pt")
    opt = torch.optim.AdamW(groups or [p for p in net.parameters() if p.requires_grad], lr=lr)
    logits = net(batch["input_ids"], batch["attention_mask"])
    F.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    opt.step()


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    y = reverse_gradient(x, 0.25)
    assert torch.equal(y, x)  # identity forward
    (y * torch.arange(12.0).view(4, 3)).sum().backward()
    assert torch.allclose(x.grad, -0.25 * torch.arange(12.0).view(4, 3))


def test_adversarial_lambda_schedule_rises_from_zero_to_the_maximum():
    adv = strategy("adversarial")
    assert adv.lambda_at(0.0) == 0.0
    assert 0 < adv.lambda_at(0.1) < adv.lambda_at(0.5) < adv.lambda_at(1.0) <= adv.lambda_max
    assert adv.lambda_at(1.0) == pytest.approx(adv.lambda_max, rel=1e-3)


def adversarial_batch(tokenizer) -> dict:
    source = tokenizer(["hello world", "good morning"], padding=True, return_tensors="pt")
    target = tokenizer(["你好世界", "おはよう"], padding=True, return_tensors="pt")
    return {"labelled": {**source, "labels": torch.tensor([0, 1]), "lang": ["en", "en"]},
            "unlabelled": {**target, "lang": ["zh", "ja"]}}  # fmt: skip


def test_adversarial_confusion_trains_the_discriminator_apart_from_the_encoder():
    """objective=confusion: the discriminator learns only from its own language loss; the
    encoder also learns to make its output uniform (log K, the loss's floor)."""
    net, tok = tiny_net()
    adv = strategy("adversarial", "strategy.objective=confusion")
    adv.source, adv.targets = "en", ["zh", "ja"]
    adv.prepare(net)
    net.eval()  # no dropout: the two passes below must see the same function
    ctx = StepContext(step=10, total_steps=10, epoch=0, global_step=10, stage=Stage())
    loss, logged = adv.training_loss(net, None, adversarial_batch(tok), ctx)
    loss.backward()
    combined = {n: w.grad.clone() for n, w in net.extras["discriminator"].named_parameters()}
    assert logged["confusion_loss"] >= torch.log(torch.tensor(3.0)) - 1e-5
    net.zero_grad()
    features = torch.cat([net.embed(b["input_ids"], b["attention_mask"])
                          for b in adversarial_batch(tok).values()]).detach()  # fmt: skip
    F.cross_entropy(net.extras["discriminator"](features), torch.tensor([0, 0, 1, 2])).backward()
    for name, weight in net.extras["discriminator"].named_parameters():
        assert torch.allclose(combined[name], weight.grad, atol=1e-6), name
    with pytest.raises(Exception, match="strategy.objective='mmd': use one of"):
        strategy("adversarial", "strategy.objective=mmd")  # xlt-train: this line, exit 2


def test_freeze_lower_leaves_frozen_weights_bit_identical():
    net, tok = tiny_net()
    s = strategy("freeze_lower", "strategy.freeze_layers=1")
    s.prepare(net)
    before = snapshot(net)
    step(net, tok, s.optimizer_groups(net, Stage()))
    after = net.state_dict()
    frozen = [
        k for k in before if k.startswith(("encoder.embeddings.", "encoder.encoder.layer.0."))
    ]
    moved = [k for k in before if k.startswith("encoder.encoder.layer.1.") and k.endswith("weight")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert moved and any(not torch.equal(before[k], after[k]) for k in moved)
    with pytest.raises(ConfigError, match="freeze_layers=5 but the encoder has 2"):
        strategy("freeze_lower", "strategy.freeze_layers=5").prepare(tiny_net()[0])


def test_cached_lower_layers_equal_a_live_pass_without_dropout():
    """freeze_lower's cache_lower: each row's frozen part runs once; logits from the cache equal
    a live pass (other batches, other padding) within 1e-5; the upper layer still trains."""
    net, tok = tiny_net()
    s = strategy("freeze_lower", "strategy.freeze_layers=1", "strategy.cache_lower=true")
    s.prepare(net)
    texts = ["hello world", "你好世界", "bye", "a much longer sentence than the others here"]
    first = tok(texts[:2], padding=True, return_tensors="pt")
    whole = tok(texts, padding=True, return_tensors="pt")
    net.eval()
    with torch.no_grad():
        net(first["input_ids"], first["attention_mask"])  # two rows cached at a short padding
        cached = net(whole["input_ids"], whole["attention_mask"])
        assert (s.lower_cache.computed, s.lower_cache.reused) == (4, 2)
        net.lower_cache = None
        live = net(whole["input_ids"], whole["attention_mask"])
    assert torch.allclose(cached, live, atol=1e-5, rtol=0)
    net.lower_cache = s.lower_cache
    net.train()
    before = snapshot(net)
    step(net, tok, s.optimizer_groups(net, Stage()))
    assert net.encoder.embeddings.training  # modes are restored after the no-dropout pass
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if ".layer.0." in k)
    assert any(not torch.equal(before[k], after[k]) for k in before if ".layer.1." in k)
    assert s.finish()["lower_cache/computed"] == s.lower_cache.computed
    with pytest.raises(ConfigError, match="needs strategy.freeze_embeddings=true"):
        strategy("freeze_lower", "strategy.freeze_layers=1", "strategy.cache_lower=true",
                 "strategy.freeze_embeddings=false").prepare(tiny_net()[0])  # fmt: skip


def test_layer_wise_lr_decay_gives_lower_layers_smaller_steps():
    net, _ = tiny_net()
    s = strategy("freeze_lower", "strategy.freeze_layers=0", "strategy.freeze_embeddings=false",
                 "strategy.layer_lr_decay=0.5", "strategy.optimizer.lr=0.1")  # fmt: skip
    groups = s.optimizer_groups(net, Stage())
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    layers = net.encoder.encoder.layer
    assert lr_of[id(net.head.weight)] == pytest.approx(0.1)
    assert lr_of[id(layers[1].output.dense.weight)] == pytest.approx(0.05)
    assert lr_of[id(layers[0].output.dense.weight)] == pytest.approx(0.025)
    assert lr_of[id(net.encoder.embeddings.word_embeddings.weight)] == pytest.approx(0.0125)
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))


def test_temperature_sampling_matches_the_formula():
    sizes = [900, 100]
    for temperature in (1.0, 2.0, 5.0):
        expected = temperature_probabilities(sizes, temperature)
        assert expected[0] == pytest.approx(900 ** (1 / temperature) / sum(
            n ** (1 / temperature) for n in sizes))  # fmt: skip
        groups = [range(0, 900), range(900, 1000)]
        sampler = TemperatureBatchSampler(groups, batch_size=4, temperature=temperature, seed=1)
        firsts = [batch[0] for _ in range(8) for batch in sampler]  # 8 epochs of 250 batches
        share = np.mean([i >= 900 for i in firsts])
        assert share == pytest.approx(expected[1], abs=0.02)
        for batch in sampler:  # every batch is one language
            assert len({i >= 900 for i in batch}) == 1


def test_few_shot_draws_exactly_k_per_class_from_target_train_only():
    data = load_hsk()
    zh_train = data.subset("train", "zh", purpose="training")
    picks = k_per_class(zh_train["label"], 4, seed=0)
    chosen = zh_train.select(picks)
    counts = np.bincount(chosen["label"], minlength=len(data.label_names))
    assert (counts == 4).all()
    held_out = set(data.subset("dev", "zh", purpose="evaluation")["id"]) | set(
        data.subset("test", "zh", purpose="evaluation")["id"]
    )
    assert not set(chosen["id"]) & held_out
    assert np.array_equal(picks, k_per_class(zh_train["label"], 4, seed=0))  # seeded
    assert not np.array_equal(picks, k_per_class(zh_train["label"], 4, seed=1))
    s = strategy("few_shot", "strategy.k=500")
    with pytest.raises(ConfigError, match="strategy.k=500 but class"):
        s.check(data, "en", ["zh"])


def test_few_shot_needs_target_train_data(tmp_path):
    from xlt.data.sources.local_files import load_local

    train = tmp_path / "train.csv"
    train.write_text("text,label,lang\na,x,en\nb,y,en\n", encoding="utf-8")
    test = tmp_path / "test.csv"
    test.write_text("text,label,lang\nc,x,de\n", encoding="utf-8")
    data = load_local({"train": str(train), "test": str(test)})
    with pytest.raises(ConfigError, match="few_shot needs labelled 'de' TRAIN data"):
        strategy("few_shot").check(data, "en", ["de"])
    strategy("few_shot", "strategy.k=0").check(data, "en", ["de"])  # k=0 is zero-shot


def test_lora_leaves_the_base_weights_unchanged_and_trains_few_parameters():
    net, tok = tiny_net()
    base = snapshot(net.encoder)
    strategy("task_adapter").prepare(net)
    trainable, total = net.count_parameters()
    assert 0 < trainable < total / 5
    step(net, tok)
    for name, value in net.encoder.get_base_model().state_dict().items():
        if "lora_" not in name:
            assert torch.equal(base[name.replace(".base_layer", "")], value), name
    lora = [p for n, p in net.encoder.named_parameters() if "lora_B" in n]
    assert lora and any(p.abs().sum() > 0 for p in lora)  # B starts at zero and moved


def test_language_heads_route_each_example_by_its_language():
    net, tok = tiny_net()
    net.add_language_heads(["en", "zh"], fallback="en")
    batch = tok(["hello", "你好"], padding=True, return_tensors="pt")
    net.eval()
    pooled = net.embed(batch["input_ids"], batch["attention_mask"])
    routed = net.classify(pooled, ["en", "zh"])
    assert torch.allclose(routed[0], net.language_heads["en"](pooled[0]))
    assert torch.allclose(routed[1], net.language_heads["zh"](pooled[1]))
    assert torch.allclose(net.classify(pooled, "de"), net.language_heads["en"](pooled))


def test_sequential_start_loads_the_checkpoint_weights(tmp_path):
    source, _ = tiny_net()
    with torch.no_grad():
        source.head.weight.fill_(0.5)
    module = TransferModule(
        source, Classification(), {}, strategy("zero_shot"), [], [], "en", ["zh"]
    )
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "best.ckpt")

    torch.manual_seed(123)
    target = SequenceClassifier(build_random_encoder().encoder, 3)
    assert not torch.equal(target.head.weight, source.head.weight)
    load_weights(target, tmp_path / "best.ckpt")
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key

    other_task = SequenceClassifier(build_random_encoder().encoder, 5)
    with pytest.raises(ConfigError, match="num_labels: checkpoint 3 vs model 5"):
        load_weights(other_task, tmp_path / "best.ckpt")
    load_weights(other_task, tmp_path / "best.ckpt", load_head=False)  # encoder only
    assert torch.equal(other_task.encoder.embeddings.word_embeddings.weight,
                       source.encoder.embeddings.word_embeddings.weight)  # fmt: skip
    wider = SequenceClassifier(build_random_encoder(hidden_size=64, num_heads=2).encoder, 3)
    with pytest.raises(ConfigError, match="hidden_size: checkpoint 32 vs model 64"):
        load_weights(wider, tmp_path / "best.ckpt")


@pytest.mark.slow
def test_every_strategy_runs_end_to_end_in_one_sweep(tmp_path, token_cache):
    from mlflow import MlflowClient

    from tests.test_cli_end_to_end import run_cli

    common = ["model=tiny_random", "trainer.max_epochs=1", "trainer.limit_train_batches=4",
              "trainer.log_every_n_steps=1",
              "trainer.enable_progress_bar=false", "dataset.eval_batch_size=512"]  # fmt: skip
    names = "zero_shot,few_shot,sequential,multitask,adversarial,task_adapter,madx"
    proc = run_cli(["-m", f"strategy={names}", *common], tmp_path, token_cache, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    # the tiny encoder has 2 layers: freeze the lower one
    single = run_cli(["strategy=freeze_lower", "strategy.freeze_layers=1",
                      "strategy.cache_lower=true", *common], tmp_path, token_cache)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    by_strategy = {r.data.tags.get("strategy"): r for r in runs if "strategy" in r.data.tags}
    assert set(by_strategy) == set(names.split(",")) | {"freeze_lower"}
    for run in by_strategy.values():
        assert run.info.status == "FINISHED"
        assert {"test/acc/en", "test/acc/zh", "params/trainable"} <= set(run.data.metrics)
        order = list(run.data.metrics)  # the run page's order: as first logged
        assert order.index("test/acc/zh") < order.index("params/trainable"), order
    sequential = by_strategy["sequential"].data.tags
    assert (
        sequential["strategy.init_checkpoint"]
        == by_strategy["zero_shot"].data.tags["best_checkpoint"]
    )
    trainable = {name: r.data.metrics["params/trainable"] for name, r in by_strategy.items()}
    assert trainable["task_adapter"] < trainable["freeze_lower"] < trainable["zero_shot"]
    assert "train/language_acc" in by_strategy["adversarial"].data.metrics
    assert by_strategy["few_shot"].data.tags["strategy.k"] == "8"
    frozen_lower = by_strategy["freeze_lower"].data  # dev and test passes reuse training rows'
    assert frozen_lower.tags["strategy.cache_lower"] == "True"
    assert frozen_lower.metrics["lower_cache/reused"] > 0


def test_linear_probe_features_are_computed_once_and_equal_a_live_pass(tmp_path):
    """Cached features (computed in other batches, other padding) give the logits of a live
    forward pass within 1e-5; each distinct row goes through the encoder once."""
    from tests.conftest import compose_train
    from xlt.components import build, prepare

    cfg = compose_train(["strategy=linear_probe", "model=tiny_random", "dataset.limit=40",
                         f"strategy.cache_dir={tmp_path}/features"], root=tmp_path)  # fmt: skip
    parts = prepare(build(cfg))
    net, cache = parts.net, parts.strategy.cache
    loader = parts.datamodule.test_dataloader()[0]
    batches = list(loader)
    net.train()  # training batches fill the cache (the frozen encoder stays in eval mode)
    for batch in parts.strategy.train_dataloader(parts.datamodule.training_data(), Stage()):
        net(batch["input_ids"], batch["attention_mask"], "en")
    net.eval()
    net(batches[0]["input_ids"][:3], batches[0]["attention_mask"][:3], "en")  # short padding
    with torch.no_grad():
        cached = [net(b["input_ids"], b["attention_mask"], "en") for b in batches]
        net.feature_cache = None
        live = [net(b["input_ids"], b["attention_mask"], "en") for b in batches]
    for c, x in zip(cached, live, strict=True):
        assert torch.allclose(c, x, atol=1e-5, rtol=0)
    rows = sum(int(b["input_ids"].shape[0]) for b in batches)
    assert cache.computed == len(cache.vectors) <= 40 + rows  # each distinct row once
    assert cache.reused >= 3
    assert parts.strategy.finish()["features/computed"] == cache.computed
    training_rows = len(cache.training_rows)
    assert training_rows < len(cache.vectors)  # test rows were cached in memory only
    saved = torch.load(cache.path, weights_only=True)
    assert len(saved["keys"]) == training_rows
    assert not set(saved["keys"]) & (set(cache.vectors) - cache.training_rows)
    again = prepare(
        build(cfg)
    )  # the next run with the same encoder finds its training rows on disk
    again.net.train()
    first = next(iter(parts.strategy.train_dataloader(again.datamodule.training_data(), Stage())))
    with torch.no_grad():
        again.net(first["input_ids"], first["attention_mask"], "en")
    assert again.strategy.cache.loaded == training_rows
    assert again.strategy.cache.computed == 0


def test_the_lbfgs_probe_trains_logistic_regression_to_convergence(tmp_path, token_cache):
    """strategy=linear_probe_lbfgs: every training row in one batch, one parameter group, no
    dropout, and after the default four epochs (four L-BFGS steps) the regularised loss is at its
    minimum (a far longer L-BFGS run from there gains under 0.1%)."""
    from tests.golden import run_in_process

    overrides = ["strategy=linear_probe_lbfgs", "model=tiny_random", "dataset.limit=48",
                 "trainer.enable_progress_bar=false",
                 "selection=final"]  # fmt: skip
    from omegaconf import open_dict

    from xlt.components import build, prepare

    cfg = compose_train(overrides, root=tmp_path)
    with open_dict(cfg):
        cfg.paths.cache_dir = str(token_cache)
    parts = prepare(build(cfg))
    batches = list(parts.strategy.train_dataloader(parts.datamodule.training_data(), Stage()))
    assert len(batches) == 1 and len(batches[0]["labels"]) == 48
    assert len(parts.strategy.optimizer_groups(parts.net, Stage())) == 1
    assert parts.net.dropout.p == 0.0
    _, out_dir = run_in_process(overrides, tmp_path, token_cache, "lbfgs")
    weights = torch.load(out_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    parts.module.load_state_dict(weights, strict=False)
    trained = objective(parts, batches[0])
    head = list(parts.net.head.parameters())
    longer = torch.optim.LBFGS(head, max_iter=3000, tolerance_grad=1e-10, tolerance_change=1e-14,
                               history_size=50, line_search_fn="strong_wolfe")  # fmt: skip
    longer.step(lambda: objective(parts, batches[0], backward=True))
    optimum = float(objective(parts, batches[0]))
    assert float(trained) - optimum < 1e-3 * abs(optimum)  # the run reached the optimum


def objective(parts, batch, backward: bool = False) -> torch.Tensor:
    """The probe's regularised training loss on `batch` (with gradients if `backward`)."""
    parts.net.zero_grad()
    ctx = StepContext(step=0, total_steps=1, epoch=0, global_step=0, stage=Stage())
    with torch.set_grad_enabled(backward):
        loss, _ = parts.strategy.training_loss(parts.net, parts.task, batch, ctx)
    if backward:
        loss.backward()
    return loss.detach() if not backward else loss
