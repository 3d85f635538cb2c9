"""The refactor guard: fixed-seed CPU runs reproduce the golden numbers recorded before it
(tests/golden.py says how they were made and when they may be regenerated)."""

from __future__ import annotations

import json

import pytest

from tests.golden import AUGMENTATION_CASES, GOLDEN_FILE, all_cases, run_case
from xlt.config.options import group_options

GOLDEN = json.loads(GOLDEN_FILE.read_text())
# fp32 kernels are not bit-identical across CPUs (oneDNN picks kernels by the CPU it finds; CI's
# machine differed from the recording one in the 7th digit of a loss). A real change (another
# batch order, dropout mask, learning rate or selected checkpoint) moves a loss by 1e-3 or more
# and a metric by a whole row (1/48 here), far outside these tolerances.
LOSS_RTOL = 1e-5
METRIC_ATOL = 1e-6
# L-BFGS (full-batch, line search) carries those last digits of the cached features much
# further: on a 2-core AMX Xeon its two losses differed from the recording CPU's by 5.7e-4 and
# 1.1e-4 relative, every accuracy was equal and one test row changed class among wrong
# answers (macro F1 +0.0032); a3282cd did the same there, so it is the CPU, not a change.
LOSS_RTOL_OF = {"linear_probe_lbfgs": 8e-4}
MACRO_F1_ATOL_OF = {"linear_probe_lbfgs": 0.005}


@pytest.fixture(scope="module")
def golden_root(tmp_path_factory):
    """One store for all cases: `sequential` starts from the `zero_shot` run made before it."""
    return tmp_path_factory.mktemp("golden")


@pytest.mark.parametrize("name", all_cases())
def test_fixed_seed_run_reproduces_the_golden_numbers(name, golden_root):
    # Its own cache: features cached by another test's run (other batches, other padding)
    # differ in the last float digits, which L-BFGS carries into the 4th digit of a loss.
    measured = run_case(name, golden_root, golden_root / "cache")
    rtol = LOSS_RTOL_OF.get(name, LOSS_RTOL)
    assert measured["train_loss"] == pytest.approx(GOLDEN[name]["train_loss"], rel=rtol)
    assert set(measured["test"]) == set(GOLDEN[name]["test"])
    for key, golden in GOLDEN[name]["test"].items():
        atol = MACRO_F1_ATOL_OF.get(name, METRIC_ATOL) if "macro_f1" in key else METRIC_ATOL
        assert measured["test"][key] == pytest.approx(golden, abs=atol), key


def test_every_strategy_and_augmentation_option_has_a_golden_case():
    """The cases come from conf/: an option added without one fails here, not silently."""
    augmentations = {o.partition("=")[2] for case in AUGMENTATION_CASES.values() for o in case
                     if o.startswith("augmentation=")}  # fmt: skip
    assert set(group_options("augmentation")) - {"none"} <= augmentations
    assert set(group_options("strategy")) <= set(all_cases())
    assert set(all_cases()) == set(GOLDEN), "regenerate: python -m tests.golden --write"
