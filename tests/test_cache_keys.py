"""Caches are keyed by what changes their output: the probe's feature files and the frozen lower
layers' states by the encoder weights actually loaded and the precision, MAD-X's adapters by the
encoder they were fit to. Two encoders (the pretrained one and one started from other weights)
and two precisions never share a vector."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from tests.conftest import compose_train
from tests.golden import run_in_process
from xlt.components import build, prepare
from xlt.strategies.base import Stage

PROBE = ["strategy=linear_probe", "model=tiny_random", "dataset.limit=40",
         "trainer.enable_progress_bar=false"]  # fmt: skip


def other_encoder(tmp_path: Path) -> Path:
    """A safetensors file of the tiny encoder with every weight moved: another run's encoder."""
    parts = prepare(build(compose_train(PROBE, root=tmp_path)))
    state = {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v
             for k, v in parts.net.encoder.state_dict().items()}  # fmt: skip
    path = tmp_path / "other_encoder.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def features(cfg, precision: str = "fp32") -> tuple[Path, torch.Tensor]:
    """The cache file a probe of `cfg` reads and the first batch's vectors."""
    parts = prepare(build(cfg))
    batch = next(iter(parts.strategy.train_dataloader(parts.datamodule.training_data(), Stage())))
    parts.net.train()  # a training batch: its rows may go to the file
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
        vectors = parts.net.embed(batch["input_ids"], batch["attention_mask"], "en")
    parts.strategy.finish()
    return parts.strategy.cache.path, vectors.float()


def test_probe_features_of_another_encoder_or_precision_never_share_a_file(tmp_path):
    cache = [f"strategy.cache_dir={tmp_path}/features"]
    pretrained = compose_train([*PROBE, *cache], root=tmp_path)
    started = compose_train([*PROBE, *cache, f"model.init_encoder={other_encoder(tmp_path)}"],
                            root=tmp_path)  # fmt: skip
    path_a, vectors_a = features(pretrained)
    path_b, vectors_b = features(started)
    assert path_a != path_b and path_a.is_file() and path_b.is_file()
    assert not torch.allclose(vectors_a, vectors_b, atol=1e-3)
    path_again, vectors_again = features(pretrained)  # the same encoder reuses its own file
    assert path_again == path_a and torch.allclose(vectors_again, vectors_a, atol=1e-5)
    path_bf16, vectors_bf16 = features(pretrained, "bf16")
    assert path_bf16 != path_a
    assert torch.load(path_bf16, weights_only=True)["key"]["precision"] == "bf16"


def test_two_probes_on_two_encoders_train_on_their_own_features(tmp_path, token_cache):
    """`-m strategy=linear_probe model.init_encoder=null,PATH`, sharing one feature folder:
    two feature files, two different probes."""
    cache = f"strategy.cache_dir={tmp_path}/features"
    tiny = [*PROBE, cache, "trainer.max_epochs=1", "dataset.limit=48"]
    other = f"model.init_encoder={other_encoder(tmp_path)}"
    heads = []
    for name, extra in (("pretrained", []), ("other", [other])):
        _, out_dir = run_in_process([*tiny, *extra], tmp_path, token_cache, name)
        state = torch.load(out_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        heads.append(state["net.head.weight"])
    assert len(list((tmp_path / "features").glob("*.pt"))) == 2
    assert not torch.allclose(heads[0], heads[1], atol=1e-4)


def test_frozen_lower_states_are_kept_per_precision(tmp_path):
    cfg = compose_train(["strategy=freeze_lower", "strategy.cache_lower=true",
                         "strategy.freeze_layers=1", "model=tiny_random", "dataset.limit=16"],
                        root=tmp_path)  # fmt: skip
    parts = prepare(build(cfg))
    batch = next(iter(parts.datamodule.test_dataloader()[0]))
    lower = parts.net.lower_cache
    with torch.no_grad():
        fp32 = lower.lower(batch["input_ids"], batch["attention_mask"])
        with torch.autocast("cpu", torch.bfloat16):
            bf16 = lower.lower(batch["input_ids"], batch["attention_mask"])
    rows = batch["input_ids"].shape[0]
    assert lower.computed == 2 * rows and lower.reused == 0  # bf16 did not reuse fp32's states
    assert not torch.equal(fp32, bf16)
