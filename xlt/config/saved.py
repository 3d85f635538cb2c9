"""The config a run folder recorded (config.yaml), read back for `resume=` and for exporting a
finished run's checkpoint: the same schema as a freshly composed one."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from xlt.config.paths import CONF_DIR
from xlt.config.schema import TrainConfig
from xlt.tracking.manifest import unmasked


def default_datamodule() -> dict:
    """conf/datamodule/default.yaml (its values follow the dataset and model configs)."""
    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "datamodule" / "default.yaml"))


def saved_config(out_dir: Path, what: str) -> DictConfig:
    """The full config a run folder recorded (config.yaml, secrets filled back in from the
    environment: a masked value is never replayed); `what` names the caller in errors."""
    logged = OmegaConf.to_container(OmegaConf.load(out_dir / "config.yaml"))
    config = unmasked(out_dir, "config.yaml", logged, what)
    config.setdefault("datamodule", default_datamodule())  # saved before conf/datamodule existed
    return OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.create(config))
