"""Bad configs fail at compose or validation time, before any model loads, naming the key."""

import pytest
from hydra.errors import ConfigCompositionException, HydraException
from omegaconf.errors import ConfigKeyError, ValidationError

from tests.conftest import compose_train
from xlt.config.instantiate import instantiate_spec
from xlt.config.validate import resolve_languages
from xlt.data.sources.hsk import load_hsk
from xlt.errors import ConfigError, DataError


def test_default_config_composes_with_the_embedded_defaults():
    cfg = compose_train([])
    assert cfg.model.name == "me5_small"
    assert cfg.dataset.name == "hsk_topic"
    assert cfg.strategy._target_.endswith("ZeroShot")
    assert cfg.selection.value == "source_dev"
    assert cfg.model.freeze_embeddings is True


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("dataset.limt=3", "limt"),
        ("trainer.max_epoch=3", "max_epoch"),
        ("dataset.limit=many", "limit"),
        ("model.pooling=max", "pooling"),
        ("selection=test_dev", "selection"),
        ("seed=abc", "seed"),
    ],
)
def test_unknown_keys_and_bad_values_name_the_key(override, needle):
    with pytest.raises((ConfigCompositionException, ConfigKeyError, ValidationError)) as err:
        compose_train([override])
    assert needle in str(err.value) + str(err.value.__cause__)


def test_unknown_group_option_lists_the_choices():
    with pytest.raises(HydraException) as err:
        compose_train(["model=no_such_model"])
    assert "no_such_model" in str(err.value)
    assert "me5_small" in str(err.value)  # Hydra lists the available options


def test_strategy_with_an_unknown_key_is_a_config_error():
    cfg = compose_train(["+strategy.warmup=3"])
    with pytest.raises(ConfigError, match=r"strategy: .*warmup"):
        instantiate_spec(cfg.strategy, "strategy")


def test_languages_are_checked_against_the_data():
    data = load_hsk()
    cfg = compose_train(["dataset.target_langs=[de]"])
    with pytest.raises(DataError, match=r"target_langs.*\['de'\].*\['en', 'zh'\]"):
        resolve_languages(cfg.dataset, data)
    cfg = compose_train(["dataset.source_lang=fr"])
    with pytest.raises(DataError, match="source_lang='fr'"):
        resolve_languages(cfg.dataset, data)
    cfg = compose_train(["dataset.target_langs=[]"])
    assert resolve_languages(cfg.dataset, data) == ("en", ["zh"])


def test_hsk_label_field_is_validated():
    cfg = compose_train(["dataset.loader.label_field=colour"])
    with pytest.raises(ConfigError, match="label_field='colour'"):
        instantiate_spec(cfg.dataset.loader, "dataset.loader")


def compose_with_hydra(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from xlt.config.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_cluster_launcher_and_declared_sweeps_compose():
    slurm = compose_with_hydra(["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu"])
    assert slurm.hydra.launcher._target_.endswith("SlurmLauncher")
    declared = compose_with_hydra(["experiment=compare_strategies"])
    assert declared.hydra.sweeper.params == {"strategy": "zero_shot,linear_probe", "seed": "0,1,2"}
    tuned = compose_with_hydra(["experiment=tune_lr"])
    assert tuned.hydra.sweeper._target_.endswith("XltOptunaSweeper")
    assert "interval" in tuned.hydra.sweeper.params["strategy.optimizer.lr"]
    assert list(tuned.hydra.callbacks) == ["mlflow_sweep"]


def test_bf16_on_a_cpu_without_bf16_units_is_warned_about(compose_cfg, monkeypatch, caplog):
    """This machine has AMX; a CPU without bf16 units cannot run here, so it is simulated."""
    import logging

    import torch

    from xlt.training import precision

    cfg = compose_cfg("trainer=cpu_bf16", "trainer.accelerator=cpu")
    assert cfg.trainer.precision == "bf16-mixed"
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    with caplog.at_level(logging.WARNING):
        precision.warn_if_slow_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    assert "slower than fp32" in caplog.text and "32-true" in caplog.text
    caplog.clear()
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    precision.warn_if_slow_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    assert not caplog.text


def test_auto_precision_is_bf16_only_where_the_cpu_has_bf16_units(compose_cfg, monkeypatch):
    import torch

    from xlt.pipeline import settle_precision

    units = {"_is_amx_tile_supported": False, "_is_avx512_bf16_supported": False}
    for name in units:
        monkeypatch.setattr(torch.cpu, name, lambda name=name: units[name], raising=False)
    chosen = {}
    for amx in (False, True):
        units["_is_amx_tile_supported"] = amx
        cfg = compose_cfg("trainer.accelerator=cpu", as_user=True)
        assert cfg.trainer.precision == "auto" and settle_precision(cfg)
        chosen[amx] = cfg.trainer.precision
    assert chosen == {False: "32-true", True: "bf16-mixed"}
    forced = compose_cfg("trainer.accelerator=cpu", "trainer.precision=32-true")
    assert not settle_precision(forced) and forced.trainer.precision == "32-true"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["strategy=zero_shoot"], "strategy=zero_shoot: no such option; did you mean zero_shot"),
        (["-m", "strategy=zero_shot,freeze_lowr", "seed=0,1"],
         "strategy=freeze_lowr: no such option; did you mean freeze_lower?"),
        (["augmentation/translator=dictionry"], "did you mean dictionary?"),
        (["dataset.target_langs={zh: 1}"], "Cannot merge DictConfig with ListConfig"),
        (["trainer.max_epochs=abc"], "'abc' of type 'str' could not be converted to Integer"),
        (["trainer.max_epochs=[1"], "cannot read the override"),
    ],
)  # fmt: skip
def test_a_command_line_that_cannot_compose_is_one_line(argv, line):
    from xlt.config.cli_errors import composition_problem

    problem = composition_problem(argv)
    assert line in problem and "\n" not in problem


def test_good_command_lines_and_hydra_flags_pass_the_check():
    from xlt.config.cli_errors import composition_problem

    assert composition_problem(["-m", "strategy=zero_shot,multitask", "seed=0,1"]) is None
    assert composition_problem(["--cfg", "job", "hydra/launcher=joblib", "~callbacks"]) is None
    assert composition_problem(["+callbacks.x._target_=a.B", "experiment=smoke"]) is None
    assert composition_problem(["--config-dir", "/elsewhere", "strategy=mine"]) is None
    assert composition_problem(["strategy=lang_adapters"]) is None  # retired: says its new name
    assert composition_problem(["-m", "hydra/sweeper=xlt_optuna", "seed=range(0,3)",
                                "strategy.optimizer.lr=interval(1e-5,1e-4)"]) is None  # fmt: skip
