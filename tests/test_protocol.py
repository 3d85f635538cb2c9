"""The protocol comes from what a run read: a table over every strategy and augmentation (tiny
model, real HSK slice, real MLflow store), a strategy that lies about its data, weights
inherited from a multilingual run, and the selected weights' dev scores as the objective."""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.golden import run_in_process
from xlt.evaluation.protocol import protocol_flags, protocol_label, protocol_table

DOCS = Path(__file__).resolve().parents[1] / "docs"
QUICK = ["model=tiny_random", "dataset.limit=32", "dataset.batch_size=16",
         "trainer.max_epochs=1", "dataset.eval_batch_size=512",
         "trainer.enable_progress_bar=false", "torch_threads=1"]  # fmt: skip
# case -> (overrides, protocol label, reads that must be in data_access.json)
CASES = {
    "zero_shot": ([], "zero-shot", []),
    "linear_probe": (["strategy=linear_probe"], "zero-shot", []),
    "freeze_lower": (["strategy=freeze_lower", "strategy.freeze_layers=1"], "zero-shot", []),
    "task_adapter": (["strategy=task_adapter"], "zero-shot", []),
    "multitask": (["strategy=multitask"], "multilingual", [("train", "zh", True, "training")]),
    "adversarial": (["strategy=adversarial"], "zero-shot+target-text",
                    [("train", "zh", False, "training")]),
    "few_shot": (["strategy=few_shot", "strategy.k=1", "strategy.target_epochs=1"], "few-shot",
                 [("train", "zh", True, "sampling"), ("train", "zh", True, "training")]),
    "few_shot_k0": (["strategy=few_shot", "strategy.k=0"], "zero-shot", []),
    "sequential": (["strategy=sequential", "strategy.k=1"], "few-shot",
                   [("weights", "*", False, "initial_weights")]),
    "translate_train": (["augmentation=translate_train"], "translate-train",
                        [("train", "zh", False, "translation")]),
    "translate_train_dictionary": (
        ["augmentation=translate_train", "augmentation/translator=dictionary"],
        "translate-train", [("train", "zh", False, "translation")]),
    "back_translation": (["augmentation=back_translation"], "multilingual",
                         [("train", "zh", True, "training")]),
    "back_translation_source": (["augmentation=back_translation",
                                 "augmentation.direction=source"], "translate-train", []),
    "paraphrase": (["augmentation=paraphrase"], "translate-train", []),
    "mix": (["augmentation=mix"], "translate-train", []),
    "mix_with_target": (["augmentation=mix", "augmentation.target=0.5"], "multilingual", []),
    "code_switch": (["augmentation=code_switch"], "zero-shot+dictionary",
                    [("train", "zh", False, "dictionary")]),
    "selection_final": (["selection=final"], "zero-shot+no-selection",
                        [("dev", "en", True, "evaluation")]),
    "target_dev": (["selection=target_dev"], "zero-shot+target-dev-selection",
                   [("dev", "zh", True, "selection")]),
}  # fmt: skip
EVALUATION = {("dev", "zh", True, "evaluation"), ("test", "en", True, "evaluation"),
              ("test", "zh", True, "evaluation")}  # fmt: skip


def reads(out_dir: Path) -> tuple[dict, set[tuple]]:
    record = json.loads((out_dir / "data_access.json").read_text())
    found = {(r["split"], r["lang"], r["labelled"], r["purpose"]) for r in record["reads"]}
    return record, found


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("protocol")


@pytest.mark.parametrize("case", list(CASES))
def test_protocol_is_computed_from_what_the_run_read(case, store, token_cache):
    overrides, label, required = CASES[case]
    results, out_dir = run_in_process([*QUICK, *overrides], store, token_cache, case)
    record, found = reads(out_dir)
    assert record["protocol"] == label, record
    assert set(required) <= found, found
    assert not record["flags"]["test_labels_used"]
    assert {r for r in found if r[3] == "evaluation" and r[0] == "test"} == {
        ("test", "en", True, "evaluation"), ("test", "zh", True, "evaluation")}  # fmt: skip
    if case == "zero_shot":  # exactly what zero-shot reads, nothing else
        assert found == EVALUATION | {("train", "en", True, "training"),
                                      ("dev", "en", True, "selection")}  # fmt: skip
    assert "test/acc/zh" in results["test"]


MISDECLARED = '''
import numpy as np
from datasets import concatenate_datasets

from xlt.strategies.base import TransferStrategy


class SaysZeroShot(TransferStrategy):
    """Declares the source alone (the default train_languages) but trains on target labels."""

    name = "says_zero_shot"

    def train_dataloader(self, data, stage):
        target = data.draw(data.targets[0], lambda labels: np.arange(len(labels)))
        return data.loader(concatenate_datasets([data.labelled[data.source], target]))
'''


def add_strategy(root: Path, module: str, source: str, yaml: str) -> list[str]:
    """A strategy written outside the repo: one module, one yaml, nothing else edited."""
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "pkg" / f"{module}.py").write_text(textwrap.dedent(source))
    (root / "conf" / "strategy").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "strategy" / f"{module}.yaml").write_text(textwrap.dedent(yaml))
    sys.path.insert(0, str(root / "pkg"))
    return [f"hydra.searchpath=[file://{root / 'conf'}]", f"strategy={module}"]


def test_a_strategy_that_misdeclares_its_data_is_not_zero_shot(store, token_cache, tmp_path):
    yaml = "defaults:\n  - zero_shot\n  - _self_\n_target_: says_zero_shot.SaysZeroShot\n"
    try:
        overrides = add_strategy(tmp_path, "says_zero_shot", MISDECLARED, yaml)
        _, out_dir = run_in_process([*QUICK, *overrides], store, token_cache, "misdeclared")
    finally:
        sys.path.remove(str(tmp_path / "pkg"))
    record, found = reads(out_dir)
    assert ("train", "zh", True, "training") in found
    assert record["flags"]["target_labels"] and not record["protocol"].startswith("zero-shot")


def test_weights_from_a_multilingual_run_make_a_run_multilingual(store, token_cache):
    _, source_run = run_in_process([*QUICK, "strategy=multitask", "model.freeze_embeddings=true"],
                                   store, token_cache, "multitask_source")  # fmt: skip
    best = source_run / "checkpoints" / "best.ckpt"
    _, out_dir = run_in_process([*QUICK, f"model.init_encoder={best}",
                                 "model.freeze_embeddings=true"],
                                store, token_cache, "from_multitask")  # fmt: skip
    record, found = reads(out_dir)
    assert ("weights", "*", False, "initial_weights") in found
    assert record["protocol"] == "multilingual" and str(best) in record["inherited"]


def test_unknown_weights_and_target_dev_show_in_the_label():
    flags = protocol_flags(
        [{"split": "dev", "lang": "zh", "labelled": True, "purpose": "selection"}],
        "en", {"x.safetensors": {"unknown_weights": True}},
    )  # fmt: skip
    assert protocol_label(flags) == "zero-shot+target-dev-selection+external-weights"
    leak = [{"split": "test", "lang": "zh", "labelled": True, "purpose": "training"}]
    assert protocol_label(protocol_flags(leak, "en")).startswith("invalid")


def test_target_dev_selection_and_parallel_data_are_inherited_through_weights():
    """Weights a target dev set picked, or aligned on gold translation pairs, carry that into
    every run started from them (by path, run id or `latest:`)."""
    own = [{"split": "dev", "lang": "en", "labelled": True, "purpose": "selection"}]
    picked = protocol_flags(own, "en", {"RUN/best.ckpt": {"target_dev_selection": True}})
    assert protocol_label(picked) == "zero-shot+target-dev-selection"
    aligned = protocol_flags(own, "en", {"aligned/": {"parallel_data": True}})
    assert protocol_label(aligned) == "zero-shot+parallel-data"
    pairs = [{"split": "train", "lang": lang, "labelled": False, "purpose": "parallel"}
             for lang in ("en", "zh")]  # fmt: skip
    assert protocol_label(protocol_flags(pairs, "en")) == "zero-shot+parallel-data+no-selection"


def test_readme_protocol_table_is_generated_from_the_rules():
    page = (DOCS / "concepts" / "protocol.md").read_text()
    assert protocol_table() in page, "regenerate with `make docs`"


def test_objective_and_dev_table_are_the_selected_weights(store, token_cache):
    for name, extra in {"objective_zero_shot": ["trainer.max_epochs=3"],
                        "objective_few_shot": ["strategy=few_shot", "strategy.k=1",
                                               "strategy.target_epochs=2"]}.items():  # fmt: skip
        results, out_dir = run_in_process([*QUICK, *extra], store, token_cache, name)
        spool = [json.loads(line)["metrics"] for line in (out_dir / "metrics.jsonl").open()]
        best = {k: v for m in spool for k, v in m.items() if k.startswith("best/dev/")}
        assert best["best/dev/acc/en"] == results["dev"]["dev/acc/en"]
        with (out_dir / "metrics_per_language.csv").open() as handle:
            table = {row["language"]: row for row in csv.DictReader(handle)}
        assert float(table["en"]["dev_acc"]) == pytest.approx(results["dev"]["dev/acc/en"])
        if name == "objective_zero_shot":  # the best epoch's, not the last one's
            during_fit = [m["dev/acc/en"] for m in spool if "dev/acc/en" in m]
            assert len(during_fit) == 3 and results["dev"]["dev/acc/en"] == max(during_fit)


def test_dev_every_n_steps_and_on_the_final_weights(store, token_cache, monkeypatch):
    """trainer.val_every_n_steps (XTREME's save_steps): dev at step 3 and at the end (4)."""
    import xlt.training.stages as stages

    seen: list[list[int]] = []
    check = stages.check_final_weights

    def spy(trainer, module, datamodule, callback):
        check(trainer, module, datamodule, callback)
        seen.append([step for step, _ in module.dev_history])

    monkeypatch.setattr(stages, "check_final_weights", spy)
    extra = ["trainer.max_epochs=2", "trainer.val_every_n_steps=3"]  # 2 batches an epoch
    results, _ = run_in_process([*QUICK, *extra], store, token_cache, "every_n_steps")
    assert seen == [[3, 4]]  # the check at step 3, then the final weights
    assert set(results["dev"]) >= {"dev/acc/en", "dev/acc/zh"}


def readme_block(language: str, after: str) -> str:
    """The first ```language block after the line containing `after` in the strategy guide."""
    text = (DOCS / "how-to" / "new-strategy.md").read_text()
    rest = text[text.index(after) :]
    start = rest.index(f"```{language}\n") + len(language) + 4
    return rest[start : rest.index("```", start)]


def test_the_readme_strategy_is_one_module_and_one_yaml(store, token_cache, tmp_path):
    from xlt.config.options import options_table

    module, yaml = readme_block("python", "**Adding a strategy**"), readme_block(
        "yaml", "**Adding a strategy**")  # fmt: skip
    name = module.splitlines()[0].split("/")[-1].removesuffix(".py")
    yaml = yaml.replace(f"xlt.strategies.{name}.", f"{name}.")  # imported from the temp folder
    try:
        overrides = add_strategy(tmp_path, name, module, yaml)
        overrides[-1] = "strategy=head_warmup"
        (tmp_path / "conf" / "strategy" / f"{name}.yaml").rename(
            tmp_path / "conf" / "strategy" / "head_warmup.yaml")  # fmt: skip
        results, out_dir = run_in_process([*QUICK, *overrides, "trainer.log_every_n_steps=1"],
                                          store, token_cache, "readme")  # fmt: skip
        assert "head_warmup" in options_table("strategy", (tmp_path / "conf",))
    finally:
        sys.path.remove(str(tmp_path / "pkg"))
    logged = [json.loads(line) for line in (out_dir / "metrics.jsonl").open()]
    steps = [r["step"] for r in logged if "train/loss" in r["metrics"]]
    assert len(steps) == 4 and steps == sorted(set(steps))  # two stages, one step count
    assert "test/acc/zh" in results["test"]
    assert json.loads((out_dir / "data_access.json").read_text())["protocol"] == "zero-shot"


def test_a_cached_augmentation_records_the_same_reads(store, token_cache):
    """The second run reads the augmented rows from the cache; its record must still say what
    building them read (gold translations of target TRAIN rows)."""
    overrides = [*QUICK, "augmentation=translate_train", "seed=7"]
    records = []
    for name in ("cache_first", "cache_second"):
        _, out_dir = run_in_process(overrides, store, token_cache, name)
        records.append(json.loads((out_dir / "data_access.json").read_text()))
    assert records[0]["reads"] == records[1]["reads"]
    assert records[1]["protocol"] == "translate-train"
