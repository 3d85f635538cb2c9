"""Paper recipes as data: `experiments/<recipe>/recipes.csv` holds, per task and model, the
settings of the paper's own scripts (columns named by config key, plus `examples_per_step`).
A run whose config claims a recipe (the tag `reference_recipe`) is checked against its row;
any difference is recorded (`recipe_deviations`), and reports compare only runs that follow
the recipe with the paper's numbers."""

from __future__ import annotations

import csv
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from xlt.tasks import CLASSIFICATION

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
NOT_CONFIG = {"task", "model", "script", "seed"}  # the row's key, its source, the paper's seed
FOLLOWED = "none"  # the recipe_deviations tag of a run that follows its recipe


def recipe_file(recipe: str) -> Path:
    return EXPERIMENTS / recipe / "recipes.csv"


def load_recipe(recipe: str, task: str, model: str) -> dict[str, str] | None:
    """The recipe's row for a task and model (None: the recipe does not cover them)."""
    path = recipe_file(recipe)
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if (r["task"], r["model"]) == (task, model)]
    return rows[0] if rows else None


def examples_per_step(cfg: DictConfig) -> int:
    """Training examples per optimizer step, over every device."""
    devices = cfg.trainer.devices if isinstance(cfg.trainer.devices, int) else 1
    return cfg.dataset.batch_size * cfg.trainer.accumulate_grad_batches * max(1, devices)


def configured_head(cfg: DictConfig) -> str:
    """What xlt puts on the encoder's last hidden states, in recipes.csv's words (`head`):
    sequence tasks pool (`first_token` for cls pooling), token tasks score every token; dropout
    where model.head_dropout > 0; one linear layer. tests/test_tasks.py checks the words against
    the built network and recipes.csv's against the transformers classes the scripts use."""

    dropout = "+dropout" if cfg.model.head_dropout else ""
    if cfg.dataset.task not in CLASSIFICATION:
        return f"tokens{dropout}+linear"
    pooling = str(getattr(cfg.model.pooling, "value", cfg.model.pooling))
    pooled = "first_token" if pooling == "cls" else f"{pooling}_pool"
    return f"{pooled}{dropout}+linear"


def config_value(cfg: DictConfig, key: str):
    if key == "examples_per_step":
        return examples_per_step(cfg)
    if key == "head":
        return configured_head(cfg)
    value = OmegaConf.select(cfg, key)
    return getattr(value, "value", value)  # enums as their names


def same(configured, wanted: str) -> bool:
    """`wanted` is the CSV cell: empty means the key is unset (null)."""
    if wanted == "":
        return configured is None
    if configured is None:
        return False
    try:
        return float(configured) == float(wanted)
    except (TypeError, ValueError):
        return str(configured) == wanted


def deviations(cfg: DictConfig, row: dict[str, str]) -> list[str]:
    """`key=value (recipe: value)` for every setting that differs from the recipe's row."""
    out = []
    for key, wanted in row.items():
        if key in NOT_CONFIG:
            continue
        configured = config_value(cfg, key)
        if not same(configured, wanted):
            out.append(f"{key}={configured} (recipe: {wanted or 'null'})")
    return out


def recipe_tags(cfg: DictConfig) -> dict[str, str]:
    """`recipe_deviations` for a run that claims a recipe: `none`, or what differs."""
    tags = cfg.logger.get("tags") or {}
    recipe = tags.get("reference_recipe")
    if not recipe:
        return {}
    row = load_recipe(recipe, tags.get("reference_task", ""), tags.get("reference_model", ""))
    if row is None:
        return {"recipe_deviations": f"{recipe} has no row for this task and model"}
    found = deviations(cfg, row)
    return {"recipe_deviations": "; ".join(found) if found else FOLLOWED,
            "recipe_seed": f"{row.get('seed', '')} (the paper's one run; xlt reports over seeds, "
                           f"this run: {cfg.seed})"}  # fmt: skip
