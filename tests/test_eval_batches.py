"""Evaluation batches by token budget: every row once, in the sorted order, no batch over the
budget (a longer row alone), and the same scores as fixed-size batches."""

from __future__ import annotations

import pytest

from tests.golden import run_in_process
from xlt.data.collate import TokenBudgetBatches


def test_token_budget_batches_cover_every_row_within_the_budget():
    lengths = [2, 2, 3, 3, 5, 9, 20]
    batches = list(TokenBudgetBatches(lengths, cells=10))
    assert batches == [[0, 1, 2], [3, 4], [5], [6]]
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 10
    shard = list(TokenBudgetBatches(lengths, cells=10, order=[1, 3, 5]))
    assert shard == [[1, 3], [5]] and len(TokenBudgetBatches([], cells=4)) == 0


def test_token_budget_batches_score_as_fixed_batches(tmp_path, token_cache):
    quick = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1", "torch_threads=1",
             "trainer.enable_progress_bar=false"]  # fmt: skip
    scores = {}
    for budget in ("null", "64"):
        results, _ = run_in_process([*quick, f"datamodule.eval_tokens_per_batch={budget}"],
                                    tmp_path / budget, token_cache, budget)  # fmt: skip
        scores[budget] = {**results["dev"], **results["test"]}
    assert scores["null"].keys() == scores["64"].keys()
    for name, value in scores["null"].items():
        assert scores["64"][name] == pytest.approx(value, abs=1e-5), name
