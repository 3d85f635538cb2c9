"""Golden numbers: the exact test metrics of fixed-seed CPU runs, one per strategy option,
augmentation option and task family (tiny model), recorded before a refactor and reproduced
after it.

Regenerate (only when a change is *meant* to move them, and say so in the commit):
    .venv/bin/python -m tests.golden --write
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

GOLDEN_FILE = Path(__file__).with_name("golden_metrics.json")
TINY = [
    "model=tiny_random",
    "dataset.limit=48",
    "trainer.max_epochs=2",
    "dataset.eval_batch_size=512",
    "trainer.enable_progress_bar=false",
    "torch_threads=1",
    "dataset.batch_size=16",
    "trainer.log_every_n_steps=1",
]
# The settings each option needs to be cheap on the tiny model; every option of the strategy
# and augmentation groups gets a case (generated from conf/, so a new option cannot be missed:
# `all_cases` fails on an option without settings here).
STRATEGY_SETTINGS: dict[str, list[str]] = {
    "zero_shot": [],
    "linear_probe": [],
    "linear_probe_lbfgs": [],
    "freeze_lower": ["strategy.freeze_layers=1"],
    "task_adapter": [],
    "multitask": [],
    "adversarial": [],
    "few_shot": ["strategy.k=2", "strategy.target_epochs=1"],
    "sequential": ["strategy.k=2"],  # starts from the zero_shot run made before it
    "madx": ["strategy.mlm.steps=10"],
}
AUGMENTATION_CASES: dict[str, list[str]] = {
    "translate_train": ["augmentation=translate_train"],
    "translate_train_dictionary": [
        "augmentation=translate_train",
        "augmentation/translator=dictionary",
    ],
    "back_translation": ["augmentation=back_translation"],
    "paraphrase": ["augmentation=paraphrase"],
    "mix": ["augmentation=mix", "augmentation.target=0.5"],
    "code_switch": ["augmentation=code_switch"],
}


def strategy_cases() -> dict[str, list[str]]:
    """One case per strategy option, `zero_shot` first (`sequential` starts from its run)."""
    from xlt.config.options import group_options

    names = sorted(group_options("strategy"), key=lambda n: (n != "zero_shot", n == "sequential"))
    missing = [n for n in names if n not in STRATEGY_SETTINGS]
    assert not missing, f"give the new strategy option(s) {missing} golden settings"
    return {n: ([] if n == "zero_shot" else [f"strategy={n}"]) + STRATEGY_SETTINGS[n]
            for n in names}  # fmt: skip


TASK_CASES = {"pair_classification": "pairs", "tagging": "tagging", "qa": "qa"}


def case_overrides(name: str, fixtures: Path) -> list[str]:
    if name in TASK_CASES:
        from tests.task_fixtures import write_task_files

        files = write_task_files(fixtures, TASK_CASES[name], n_train=120, n_eval=30)
        return [*TINY, *files, "trainer.max_epochs=3"]
    return [*TINY, *{**strategy_cases(), **AUGMENTATION_CASES}[name]]


def train_losses(out_dir: Path) -> list[float]:
    """Every `train/loss` the run logged, in order (from the run folder's metric spool): the most
    sensitive record of what training did."""
    lines = (out_dir / "metrics.jsonl").read_text().splitlines()
    records = (json.loads(line)["metrics"] for line in lines)
    return [r["train/loss"] for r in records if "train/loss" in r]


def run_in_process(overrides: list[str], root: Path, cache: Path, name: str):
    """`xlt-train OVERRIDES` in this process against a real MLflow store under `root`; returns
    (results, the run folder)."""
    from omegaconf import open_dict

    from tests.conftest import compose_train
    from xlt.pipeline import run

    cfg = compose_train(overrides, root=root)
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "runs" / name)
        cfg.paths.cache_dir = str(cache)
    return run(cfg), Path(cfg.paths.output_dir)


def run_case(name: str, root: Path, cache: Path) -> dict[str, object]:
    """One golden run: its test metrics and every training loss it logged."""
    results, out_dir = run_in_process(case_overrides(name, root / "fixtures"), root, cache, name)
    test = {k: float(v) for k, v in sorted(results["test"].items())}
    return {"test": test, "train_loss": train_losses(out_dir)}


def all_cases() -> list[str]:
    return [*strategy_cases(), *AUGMENTATION_CASES, *TASK_CASES]


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help=f"rewrite {GOLDEN_FILE.name}")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results = {name: run_case(name, root, root / "cache") for name in all_cases()}
    text = json.dumps(results, indent=1, sort_keys=True) + "\n"
    if args.write:
        GOLDEN_FILE.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
