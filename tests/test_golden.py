"""The refactor guard: fixed-seed CPU runs reproduce the golden numbers recorded before it
(tests/golden.py says how they were made and when they may be regenerated)."""

from __future__ import annotations

import json

import pytest

from tests.golden import GOLDEN_FILE, all_cases, run_case

GOLDEN = json.loads(GOLDEN_FILE.read_text())


@pytest.fixture(scope="module")
def golden_root(tmp_path_factory):
    """One store for all cases: `sequential` starts from the `zero_shot` run made before it."""
    return tmp_path_factory.mktemp("golden")


@pytest.mark.parametrize("name", all_cases())
def test_fixed_seed_run_reproduces_the_golden_numbers(name, golden_root, token_cache):
    measured = run_case(name, golden_root, token_cache)
    assert measured["train_loss"] == GOLDEN[name]["train_loss"]
    assert measured["test"] == GOLDEN[name]["test"]
