"""Shared fixtures: offline Hugging Face libraries, composed configs, temporary output roots."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import platform  # noqa: E402
import signal  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import xlt.config  # noqa: E402,F401  (registers the schema)
from xlt.config.paths import CONFIG_DIR  # noqa: E402
from xlt.training.stop_signals import STOP_SIGNALS, stop_on_signals  # noqa: E402

# What the suite sets on every run it starts, as overrides a user could type (no environment
# variable changes a default): golden numbers are fp32's (to 1e-5 on any CPU), and tiny runs
# train the epochs they ask for, not stretched to the 300-step budget. A test that sets one of
# these keys itself keeps its value; `as_user=True` runs the defaults exactly as users get them.
SUITE_SETTINGS = {"trainer.precision": "32-true", "trainer.min_train_steps": "0"}


def _chosen_trainer_sets(key: str, overrides: list[str]) -> bool:
    """Whether a `trainer=NAME` override picks a file that sets this trainer key itself."""
    field = key.removeprefix("trainer.")
    for override in overrides:
        if override.startswith("trainer="):
            text = (Path(CONFIG_DIR) / "trainer" / f"{override.split('=', 1)[1]}.yaml").read_text()
            if any(line.startswith(f"{field}:") for line in text.splitlines()):
                return True
    return False


def with_suite_settings(overrides: list[str]) -> list[str]:
    """The overrides plus SUITE_SETTINGS' keys they leave unset (a resume reuses its run's)."""
    if any(o.startswith("resume=") for o in overrides):
        return list(overrides)
    named = {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}
    extra = [f"{key}={value}" for key, value in SUITE_SETTINGS.items()
             if key not in named and not _chosen_trainer_sets(key, overrides)]  # fmt: skip
    return [*overrides, *extra]


def compose_train(
    overrides: list[str], root: Path | None = None, as_user: bool = False
) -> DictConfig:
    """The config `xlt-train` would run with these overrides, composed in-process (with the
    suite's settings unless `as_user`)."""
    overrides = list(overrides) if as_user else with_suite_settings(overrides)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if root is not None:
        with open_dict(cfg):
            cfg.paths.root_dir = str(root)
            cfg.paths.output_dir = str(root / "run")
    return cfg


@pytest.fixture
def compose_cfg(tmp_path: Path):
    def make(*overrides: str, as_user: bool = False) -> DictConfig:
        return compose_train(list(overrides), root=tmp_path, as_user=as_user)

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


def pytest_report_header(config) -> str:
    return cpu_line()


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(cpu_line())  # again at the end, where a CI log's tail has it


def cpu_line() -> str:
    """The CPU kind the timings of this session come from (the suite's budget is per kind)."""
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lines
                  if line.startswith("model name")), platform.processor())  # fmt: skip
    checks = {"AMX": "_is_amx_tile_supported", "AVX512-BF16": "_is_avx512_bf16_supported"}
    units = [name for name, check in checks.items() if getattr(torch.cpu, check)()]
    kind = "bf16 kind: " + " + ".join(units) if units else "fp32 kind (AVX2)"
    return f"cpu: {model}, {os.cpu_count()} cores, {kind}"


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and _trains_end_to_end(function, set()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def stop_handlers():
    """xlt-train's stop-signal handlers in this process for one test, then pytest's own."""
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    stop_on_signals()
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
