"""Start an encoder from other weights: an aligned encoder folder written by `xlt-align`, a
safetensors file, or an `xlt-train` checkpoint (its `net.encoder.*` tensors), by path or by the
MLflow run that recorded it. Reads never execute code (safetensors / weights_only)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from torch import nn

from xlt.config.schema import ModelConfig
from xlt.config.settings import plain
from xlt.errors import ConfigError

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
RUN_TAGS = ("aligned_encoder", "best_checkpoint")  # what xlt-align / xlt-train record


def resolve(spec: str, client=None) -> Path:
    """A path as given, or the weights an MLflow run recorded (needs `client`)."""
    if RUN_ID.match(spec):
        if client is None:
            raise ConfigError(f"{spec} looks like an MLflow run id, but no store is open")
        tags = client.get_run(spec).data.tags
        for tag in RUN_TAGS:
            if tag in tags:
                return Path(tags[tag])
        raise ConfigError(f"run {spec} recorded no weights (no tag {' or '.join(RUN_TAGS)})")
    return Path(spec).expanduser()


def model_source(model: ModelConfig) -> str:
    """Fingerprint of where the encoder's weights come from (a conf/model config's `source`):
    frozen weights are rebuilt from it, so a checkpoint without them fits only the same source."""
    spec = plain(model.source)
    spec = {k: v for k, v in spec.items() if "cache" not in k}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


ENCODER_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size", "source")


def encoder_state(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """The encoder tensors of `path`, and the xlt-train checkpoint's architecture record (None
    for an encoder folder or safetensors file, which hold every tensor)."""
    from safetensors.torch import load_file

    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise ConfigError(f"encoder weights not found: {path}")
    if path.suffix == ".safetensors":
        return load_file(path), None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(f"{path}: not a loadable checkpoint ({type(err).__name__})") from err
    state = checkpoint.get("state_dict", checkpoint)
    tensors = {
        k.removeprefix("net.encoder."): v for k, v in state.items() if k.startswith("net.encoder.")
    }
    return tensors, checkpoint.get("xlt_architecture")


def check_same_source(path: Path, saved: dict, expected: dict) -> None:
    """A checkpoint keeps trainable weights only: the frozen rest must come from the same model
    source, which the recorded architecture says."""
    differ = {k: (saved.get(k), expected.get(k)) for k in ENCODER_KEYS
              if k in saved and saved.get(k) != expected.get(k)}  # fmt: skip
    if differ:
        detail = ", ".join(f"{k}: checkpoint {a} vs model {b}" for k, (a, b) in differ.items())
        raise ConfigError(f"{path} was trained from another model: {detail}")


def load_encoder_weights(encoder: nn.Module, path: Path, expected: dict | None = None) -> int:
    """Copy the tensors of `path` into `encoder`. Names and shapes must match; an xlt-train
    checkpoint may lack the weights its run kept frozen (they are the model source's, checked
    against `expected`, the current model's architecture record)."""
    state, architecture = encoder_state(path)
    mine = encoder.state_dict()
    if architecture is not None:
        check_same_source(path, architecture, expected or {})
        mine = {k: v for k, v in mine.items() if k in state}  # frozen there: the source's own
    missing = sorted(set(mine) - set(state))
    unexpected = sorted(set(state) - set(mine))
    wrong = [k for k in set(state) & set(mine) if state[k].shape != mine[k].shape]
    if missing or unexpected or wrong:
        raise ConfigError(
            f"{path} does not fit this encoder: {len(missing)} missing (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]}), {len(wrong)} of another "
            "shape; was it made from the same model config?"
        )
    encoder.load_state_dict(state, strict=architecture is None)
    return len(state)
