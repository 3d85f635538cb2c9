"""Start an encoder from other weights: an aligned encoder folder written by `xlt-align`, a
safetensors file, or an `xlt-train` checkpoint (its `net.encoder.*` tensors), by path or by the
MLflow run that recorded it. Reads never execute code (safetensors / weights_only)."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

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


def encoder_state(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise ConfigError(f"encoder weights not found: {path}")
    if path.suffix == ".safetensors":
        return load_file(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(f"{path}: not a loadable checkpoint ({type(err).__name__})") from err
    state = checkpoint.get("state_dict", checkpoint)
    return {
        k.removeprefix("net.encoder."): v for k, v in state.items() if k.startswith("net.encoder.")
    }


def load_encoder_weights(encoder: nn.Module, path: Path) -> int:
    """Copy every tensor of `path` into `encoder`; names and shapes must all match."""
    state, mine = encoder_state(path), encoder.state_dict()
    missing = sorted(set(mine) - set(state))
    unexpected = sorted(set(state) - set(mine))
    wrong = [k for k in set(state) & set(mine) if state[k].shape != mine[k].shape]
    if missing or unexpected or wrong:
        raise ConfigError(
            f"{path} does not fit this encoder: {len(missing)} missing (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]}), {len(wrong)} of another "
            "shape; was it made from the same model config?"
        )
    encoder.load_state_dict(state)
    return len(state)
