"""Loading a previous run's weights to start from (parameter initialisation, sequential transfer).

Checkpoints are read with `weights_only=True` (no code runs from a file) and must match the
network's architecture; a mismatch is an error that says what differs.
"""

from __future__ import annotations

from pathlib import Path

import torch

from xlt.errors import ConfigError
from xlt.models.network import TransferNetwork

HEAD_PREFIXES = ("head.", "language_heads.")


def load_weights(net: TransferNetwork, path: str | Path, load_head: bool = True) -> int:
    """Copy the checkpoint's weights into `net`; returns how many tensors were loaded."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, truncated files
        raise ConfigError(
            f"{path}: not a loadable checkpoint ({type(err).__name__}: {err})"
        ) from err
    saved, mine = checkpoint.get("xlt_architecture"), net.architecture()
    if saved is None:
        raise ConfigError(f"{path}: not an xlt checkpoint (no architecture record)")
    keys = [k for k in mine if (load_head or k != "num_labels") and k in saved]
    differ = {k: (saved.get(k), mine[k]) for k in keys if saved.get(k) != mine[k]}
    if differ:
        detail = ", ".join(f"{k}: checkpoint {a} vs model {b}" for k, (a, b) in differ.items())
        hint = " (set strategy.load_head=false for another task)" if "num_labels" in differ else ""
        raise ConfigError(f"{path} does not fit this model: {detail}{hint}")
    state = {
        k.removeprefix("net."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("net.")
        and (load_head or not k.removeprefix("net.").startswith(HEAD_PREFIXES))
    }
    result = net.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise ConfigError(f"{path}: weights the model does not have: {result.unexpected_keys[:5]}")
    return len(state)
