"""Every config runs (lightning-hydra-template style): each offline experiment for a few steps,
and one variation of the smoke experiment for every option of every group, one factor at a
time. Hub-only options are composed and must fail fast offline; trainer=gpu is composed only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.golden import run_in_process
from tests.task_fixtures import write_task_files
from xlt.config.options import group_options, hub_backed
from xlt.errors import XltError

FEW_STEPS = ["experiment=smoke", "dataset.limit=16", "trainer.max_steps=2",
             "dataset.eval_batch_size=256", "torch_threads=1"]  # fmt: skip
COMPOSE_ONLY = {"trainer": {"gpu", "ddp"}}  # no GPU here; DDP has its own multi-process test
LOCAL = {"local": "pairs", "local_tagging": "tagging", "local_qa": "qa"}
EXTRA = {("strategy", "freeze_lower"): ["strategy.freeze_layers=1"],
         ("strategy", "few_shot"): ["strategy.k=1", "strategy.target_epochs=1"],
         ("strategy", "sequential"): ["strategy.k=1"],
         ("strategy", "madx"): ["strategy.mlm.steps=5"]}  # fmt: skip
GROUPS = ("dataset", "model", "strategy", "augmentation", "augmentation/translator", "trainer",
          "callbacks", "datamodule", "evaluation")  # fmt: skip
NOT_VARIED = {"experiment", "hydra", "paths", "logger", "align"}  # run below or by other tests
VARIATIONS = [(group, option) for group in GROUPS for option in group_options(group)]
# Hub-backed options, from the sources' own declarations (xlt/config/options.py::hub_backed).
HUB = {(group, option) for group, option in VARIATIONS
       if group in ("dataset", "model", "augmentation/translator")
       and hub_backed(group, option)}  # fmt: skip


def variation(group: str, option: str, fixtures) -> list[str]:
    overrides = [f"{group}={option}", *EXTRA.get((group, option), [])]
    if group == "augmentation/translator":
        overrides.insert(0, "augmentation=translate_train")
    if option == "mined":  # a table as xlt-align writes it, of 20 TRAIN pairs (the rest stay
        # untranslated: a table that matched no row would be refused as changing nothing)
        overrides.append(f"augmentation.translator.pairs={mined_table(fixtures)}")
    if group == "dataset" and option in LOCAL:
        files = write_task_files(fixtures, LOCAL[option], n_train=24, n_eval=8)
        overrides = [o for o in files if not o.startswith("dataset=")] + overrides
    return overrides


def mined_table(fixtures: Path) -> Path:
    from xlt.data.sources.hsk import load_hsk

    train = load_hsk(cache_dir=str(fixtures / "cache")).splits["train"]
    by_lang: dict[str, dict[str, str]] = {"en": {}, "zh": {}}
    for key, text, lang in zip(train["id"], train["text"], train["lang"], strict=True):
        by_lang[lang][str(key)] = text
    ids = sorted(set(by_lang["en"]) & set(by_lang["zh"]))[:20]
    fixtures.mkdir(parents=True, exist_ok=True)
    table = fixtures / "mined_pairs.tsv"
    lines = [f"{by_lang['en'][i]}\t{by_lang['zh'][i]}\t1.1" for i in ids]
    table.write_text("source\ttarget\tscore\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return table


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("variations")


def test_every_group_option_is_covered():
    from xlt.config.paths import CONF_DIR

    folders = {str(p.parent.relative_to(CONF_DIR)) for p in CONF_DIR.glob("*/**/*.yaml")}
    assert {f for f in folders if f.split("/")[0] not in NOT_VARIED} == set(GROUPS)
    options = {g: set(group_options(g)) for g in GROUPS}
    assert all(options.values()) and {o for _, o in VARIATIONS} >= options["strategy"]
    assert {o for g, o in HUB if g == "dataset"} >= {"xnli", "pawsx", "panx", "xquad", "mlqa"}
    assert {o for g, o in HUB if g != "dataset"} >= {"xlmr_base", "mbert", "marian"}
    assert (
        not {
            ("dataset", "hsk_topic"),
            ("model", "me5_small"),
            ("model", "tiny_random"),
            ("augmentation/translator", "dictionary"),
        }
        & HUB
    )  # offline ones are run


@pytest.mark.parametrize("group,option", VARIATIONS)
def test_one_option_at_a_time_from_the_smoke_experiment(group, option, root, token_cache):
    overrides = [*FEW_STEPS, *variation(group, option, root / "fixtures")]
    name = f"{group.replace('/', '-')}-{option}"
    if (group, option) in HUB:
        start = time.monotonic()
        with pytest.raises(XltError, match="offline|hub|HF_HUB_OFFLINE"):
            from tests.conftest import compose_train
            from xlt.train import preflight

            cfg = compose_train(overrides, root=root)
            preflight(cfg)  # sources with a preflight fail here, within a second
            run_in_process(overrides, root, token_cache, name)  # translators fail when used
        assert time.monotonic() - start < 30
        return
    if option in COMPOSE_ONLY.get(group, ()):
        from tests.conftest import compose_train
        from xlt.config.validate import check_required

        check_required(compose_train(overrides, root=root))
        return
    if (group, option) == ("model", "me5_small"):
        overrides.append("dataset.limit=8")
    results, _ = run_in_process(overrides, root, token_cache, name)
    assert results["test"]


@pytest.mark.parametrize("experiment", [e for e in group_options("experiment")])
def test_every_offline_experiment_runs_a_few_steps(experiment, root, token_cache):
    """Declared sweeps (compare_strategies, tune_lr) run their base configuration once."""
    overrides = [f"experiment={experiment}", "model=tiny_random", "dataset.limit=16",
                 "trainer.max_steps=2", "trainer.enable_progress_bar=false"]  # fmt: skip
    results, _ = run_in_process(overrides, root, token_cache, f"experiment-{experiment}")
    assert results["test"]
