"""Language adapters as reusable files: one folder per adapter (its LoRA weights, its peft
config, and `xlt_adapter.json` saying which encoder, corpus and settings made it). Folders are
cached under a key of exactly those three, logged to MLflow under `language_adapters/<lang>`,
and loaded back by folder or by the run id that logged them."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from torch import nn

from xlt.errors import ConfigError
from xlt.models.init_encoder import RUN_ID

ARTIFACT_DIR = "language_adapters"  # in a run's artifacts: language_adapters/<lang>/
META_FILE = "xlt_adapter.json"
WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
FORMAT = 1  # bump when what a folder holds changes


def corpus_fingerprint(rows: list[list[int]]) -> str:
    """Of the token ids an adapter learns from (the same text under another tokenizer differs)."""
    digest = hashlib.sha256()
    for ids in rows:
        digest.update(json.dumps(ids).encode())
    return digest.hexdigest()[:16]


def cache_key(meta: dict[str, Any]) -> str:
    """Encoder, corpus and settings: an adapter equal in all three is the same adapter."""
    parts = {k: meta[k] for k in ("encoder", "corpus_fingerprint", "adapter", "mlm", "format")}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def save_adapter(encoder: nn.Module, name: str, folder: Path, meta: dict[str, Any]) -> Path:
    """Write adapter `name` of a peft model (atomically: a killed run leaves no half folder)."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    state = get_peft_model_state_dict(encoder, adapter_name=name)
    save_file({k: v.detach().contiguous() for k, v in state.items()}, staging / WEIGHTS_FILE)
    config = encoder.peft_config[name].to_dict()
    (staging / CONFIG_FILE).write_text(json.dumps(config, indent=1, default=list) + "\n")
    (staging / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    try:
        staging.rename(folder)
    except OSError:  # a parallel trial renamed its copy first: keep that one
        if not folder.exists():
            raise
        shutil.rmtree(staging)
    return folder


def read_meta(folder: Path) -> dict[str, Any]:
    meta_file = folder / META_FILE
    if not meta_file.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise ConfigError(f"{folder}: not a language adapter folder (it needs {META_FILE} and "
                          f"{WEIGHTS_FILE}, as a MAD-X run writes them)")  # fmt: skip
    return json.loads(meta_file.read_text())


def load_adapter(encoder: nn.Module, name: str, folder: Path, encoder_id: dict) -> dict:
    """Add adapter `name` to a peft model from `folder`; refused for another encoder."""
    from peft import LoraConfig, set_peft_model_state_dict
    from safetensors.torch import load_file

    meta = read_meta(folder)
    if meta.get("encoder") != encoder_id:
        raise ConfigError(f"{folder}: this language adapter was trained on encoder "
                          f"{meta.get('encoder')}, not this run's {encoder_id}")  # fmt: skip
    config = json.loads((folder / CONFIG_FILE).read_text())
    encoder.add_adapter(name, LoraConfig.from_peft_type(**config))
    set_peft_model_state_dict(encoder, load_file(folder / WEIGHTS_FILE), adapter_name=name)
    return meta


def resolve_reference(ref: str, lang: str, client=None) -> Path:
    """A folder for `strategy.language_adapters.<lang>`: a path (the adapter folder or a run's
    `language_adapters/` folder), or the id of the run that logged it (downloaded)."""
    path = Path(ref).expanduser()
    for folder in (path / lang, path):
        if (folder / META_FILE).is_file():
            return folder
    if path.exists():
        return path  # read_meta names what it lacks
    if not RUN_ID.fullmatch(ref):
        raise ConfigError(f"strategy.language_adapters.{lang}={ref}: no such folder, and not "
                          "an MLflow run id (32 hex digits)")  # fmt: skip
    if client is None:
        raise ConfigError(f"strategy.language_adapters.{lang}={ref}: a run id needs the "
                          "tracking store; run through xlt-train")  # fmt: skip
    target = Path(tempfile.mkdtemp(prefix="xlt-adapter-"))
    try:
        local = client.download_artifacts(ref, f"{ARTIFACT_DIR}/{lang}", str(target))
    except Exception as err:  # noqa: BLE001  (MLflow raises several kinds for a missing run)
        raise ConfigError(
            f"strategy.language_adapters.{lang}={ref}: the run has no "
            f"{ARTIFACT_DIR}/{lang} artifact ({type(err).__name__})"
        ) from None
    return Path(local)
