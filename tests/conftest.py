"""Shared fixtures: offline Hugging Face libraries, composed configs, temporary output roots."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Tests pick their epochs on tiny data: no stretching to trainer.min_train_steps (its own tests
# set it explicitly).
os.environ.setdefault("XLT_MIN_TRAIN_STEPS", "0")
# Golden numbers are fp32's (to 1e-5 on any CPU; trainer.precision=auto's own tests unset it).
os.environ.setdefault("XLT_PRECISION", "32-true")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import xlt.config  # noqa: E402,F401  (registers the schema)
from xlt.config.paths import CONFIG_DIR  # noqa: E402


def compose_train(overrides: list[str], root: Path | None = None) -> DictConfig:
    """The config `xlt-train` would run with these overrides, composed in-process."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if root is not None:
        with open_dict(cfg):
            cfg.paths.root_dir = str(root)
            cfg.paths.output_dir = str(root / "run")
    return cfg


@pytest.fixture
def compose_cfg(tmp_path: Path):
    def make(*overrides: str) -> DictConfig:
        return compose_train(list(overrides), root=tmp_path)

    return make


@pytest.fixture(scope="session")
def token_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xlt-cache")


# What makes a test "e2e" (deselected by `make test-fast`, still run by `make test`): it trains
# through the pipeline, runs a CLI or another process, or fits a Lightning Trainer. Found in the
# test's own source and in the module's helper functions it calls, so nothing is listed by hand.
E2E_SIGNS = ("run_in_process", "run_cli", "run_case", "xlt.pipeline", "components import build",
             "subprocess", ".fit(", "build(cfg")  # fmt: skip


def _trains_end_to_end(function, seen: set[str]) -> bool:
    import inspect

    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    if any(sign in source for sign in E2E_SIGNS):
        return True
    module = inspect.getmodule(function)
    for name, helper in vars(module).items():
        if (name not in seen and inspect.isfunction(helper) and helper.__module__ == module.__name__
                and f"{name}(" in source):  # fmt: skip
            seen.add(name)
            if _trains_end_to_end(helper, seen):
                return True
    return False


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and _trains_end_to_end(function, set()):
            item.add_marker(pytest.mark.e2e)
