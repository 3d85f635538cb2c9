"""The numbers behind a report: configurations from overrides, intervals that combine seeds and
test rows, paired differences, and per-row scores that reproduce each task's metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xlt.reporting.configs import configuration, default_of, label, parse_overrides
from xlt.reporting.uncertainty import Rows, aligned_rows, cell, metric_of, paired_difference


def test_configuration_drops_ignored_keys_and_overrides_equal_to_the_default():
    overrides = parse_overrides(
        "seed=3 torch_threads=1 dataset.num_workers=2 logger.tags.x=y paths.root_dir=/tmp "
        "strategy=few_shot strategy.k=8 strategy.target_epochs=2 dataset.batch_size=32 "
        "hydra/launcher=joblib +trainer.max_epochs=4"
    )
    # k=8 is few_shot's default, batch 32 and 4 epochs are the defaults: no change
    assert configuration(overrides) == {"strategy": "few_shot", "strategy.target_epochs": "2"}
    assert label(configuration(parse_overrides("strategy=zero_shot seed=1"))) == "default"
    # runs made before a rename group with the new name (and reproduce under it)
    assert configuration(parse_overrides("strategy=lang_adapters")) == {"strategy": "task_adapter"}
    assert configuration(parse_overrides("model.init_encoder=abc dataset.batch_size=16")) == {
        "model.init_encoder": "abc", "dataset.batch_size": "16"}  # fmt: skip


def binomial_rows(p: float, n: int, runs: int, seed: int) -> Rows:
    rng = np.random.default_rng(seed)
    return Rows({"acc": (rng.random((runs, n)) < p).astype(float)})


def test_interval_has_the_width_of_a_binomial_standard_error():
    rows = binomial_rows(0.6, 151, 1, 0)
    estimate, low, high = cell({"zh": rows}, {"zh": 1.0})
    se = np.sqrt(0.6 * 0.4 / 151)  # about 0.04, as the issue says
    assert low < estimate < high
    assert (high - low) / 2 == pytest.approx(1.96 * se, rel=0.25)


def test_interval_is_a_t_interval_over_few_seeds():
    """Three seeds 0.05 apart with no row-to-row spread: the interval is exactly the seeds' t
    interval with 2 degrees of freedom (a percentile bootstrap of three values is narrower);
    with rows that differ in difficulty the test rows widen it further."""
    levels = np.array([0.50, 0.55, 0.60])
    flat = np.repeat(levels[:, None], 150, axis=1)
    estimate, low, high = cell({"zh": Rows({"acc": flat})}, {"zh": 1.0})
    assert estimate == pytest.approx(0.55)
    assert (high - low) / 2 == pytest.approx(4.3027 * levels.std(ddof=1) / np.sqrt(3), rel=1e-4)
    difficulty = (np.arange(150) + 0.5) / 150
    rows = np.stack([(difficulty < level).astype(float) for level in levels])
    _, low_rows, high_rows = cell({"zh": Rows({"acc": rows})}, {"zh": 1.0})
    row_se = np.sqrt(0.55 * 0.45 / 150)
    assert (high_rows - low_rows) / 2 > 1.96 * np.hypot(row_se, levels.std(ddof=1) / np.sqrt(3))


def test_micro_f1_rows_average_to_the_runs_f1():
    from xlt.reporting.uncertainty import row_scores

    rng = np.random.default_rng(0)
    parts = {k: rng.integers(0, 3, (2, 40)).astype(float) for k in ("tp", "fp", "fn")}
    assert row_scores(parts).mean(-1) == pytest.approx(metric_of(parts))


def test_seed_variance_widens_the_interval():
    same = Rows({"acc": np.repeat(binomial_rows(0.6, 300, 1, 0).components["acc"], 3, axis=0)})
    spread = same.components["acc"].copy()
    spread[1, :60] = 1.0  # one seed much better than the others
    spread[2, :60] = 0.0
    _, lo_same, hi_same = cell({"zh": same}, {"zh": 1.0})
    _, lo_spread, hi_spread = cell({"zh": Rows({"acc": spread})}, {"zh": 1.0})
    assert hi_spread - lo_spread > hi_same - lo_same


def test_paired_difference_separates_real_gaps_and_not_noise():
    base = binomial_rows(0.6, 400, 3, 1).components["acc"]
    better = base.copy()
    better[:, :60] = 1.0  # the same rows, 60 of them right in every seed
    diff, low, high = paired_difference({"zh": Rows({"acc": better})}, {"zh": Rows({"acc": base})},
                                        {"zh": 1.0})  # fmt: skip
    assert diff > 0 and low > 0
    _, low, high = paired_difference({"zh": Rows({"acc": base})}, {"zh": Rows({"acc": base})},
                                     {"zh": 1.0})  # fmt: skip
    assert low <= 0 <= high


def test_tagging_rows_recompute_micro_f1_and_runs_align_by_id():
    table = pd.DataFrame({"lang": ["en"] * 3, "id": ["a", "b", "c"],
                          "tp": [1, 2, 0], "fp": [1, 0, 1], "fn": [0, 1, 1]})  # fmt: skip
    rows = aligned_rows([table, table.iloc[::-1]], "en", "f1")
    assert rows.shape == (2, 3)
    assert metric_of(rows.components)[0] == pytest.approx(2 * 3 / (2 * 3 + 2 + 2))
    assert aligned_rows([table, table.assign(lang="de")], "en", "f1") is None


@pytest.mark.parametrize("case", ["zero_shot", "tagging", "qa"])
def test_logged_per_row_scores_reproduce_the_test_metrics(case, tmp_path, token_cache):
    from tests.golden import case_overrides, run_in_process

    overrides = case_overrides(case, tmp_path / "fixtures")
    results, out_dir = run_in_process(overrides, tmp_path, token_cache, case)
    table = pd.read_csv(out_dir / "test_predictions.csv", dtype={"id": str})
    metric = "acc" if case == "zero_shot" else "f1"
    for lang in table["lang"].unique():
        rows = aligned_rows([table], lang, metric)
        logged = results["test"][f"test/{metric}/{lang}"]
        assert metric_of(rows.components)[0] == pytest.approx(logged, abs=1e-6)
        assert rows.shape[1] == (table["lang"] == lang).sum()  # every test row, once


def test_runs_that_computed_differently_never_share_a_cell():
    """bf16 (an AMX machine) and fp32 (an AVX2 machine) runs of one configuration are two rows;
    runs of two commits share a cell only with their commits listed, flagged when the code's
    golden numbers differ."""
    from xlt.reporting.aggregate import summarize_runs
    from xlt.reporting.collect import numerics_value, split_by_numerics

    rows = []
    for seed, precision, commit, golden in ((0, "bf16-mixed", "aaaa1111", "g1"),
                                            (1, "32-true", "aaaa1111", "g1"),
                                            (2, "32-true", "bbbb2222", "g2")):  # fmt: skip
        numerics = {"precision": numerics_value("precision", precision), "attention": "sdpa",
                    "fused_qkv": "true"}  # fmt: skip
        rows.append({"run_id": str(seed), "protocol": "zero-shot", "config": {},
                     "configuration": "default", "seed": seed, "source_lang": "en",
                     "test/acc/zh": 0.5, "numerics": numerics, "git_commit": commit,
                     "golden_digest": golden})  # fmt: skip
    runs = split_by_numerics(pd.DataFrame(rows))
    assert sorted(runs["configuration"].unique()) == ["precision=bf16", "precision=fp32"]
    summary, keys = summarize_runs(runs, lambda run_id: None)
    assert keys == ["precision"]
    fp32 = summary.set_index("configuration").loc["precision=fp32"]
    assert fp32["commits"] == "aaaa1111,bbbb2222 (golden numbers differ!)"
    alike = split_by_numerics(pd.DataFrame(rows[1:2]))
    assert list(alike["configuration"]) == ["default"]  # nothing varies: nothing is added


def test_plot_legends_sit_beside_the_data():
    """The report's legends go right of the axes, so no bar or curve is hidden under one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xlt.reporting.plots import outside_legend

    fig, ax = plt.subplots()
    for i in range(6):
        ax.plot([0, 1], [i / 6, 1 - i / 6], label=f"configuration {i} with a long name")
    outside_legend(ax)
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1
    plt.close(fig)


def test_the_default_is_named_in_the_report():
    assert default_of("strategy") == "zero_shot (default)"
    assert default_of("dataset.batch_size") == "32 (default)"


def test_overrides_every_run_shares_leave_the_labels():
    """A declared sweep's trials all carry `experiment=...`: labels keep what differs, the note
    says what is shared; one configuration alone keeps its full label."""
    import pandas as pd

    from xlt.reporting.cli import baseline_label
    from xlt.reporting.collect import without_shared_overrides

    configs = [{"experiment": "many_languages", "strategy": "few_shot"},
               {"experiment": "many_languages"}]  # fmt: skip
    runs = pd.DataFrame({"config": configs, "configuration": [label(c) for c in configs]})
    runs, shared = without_shared_overrides(runs)
    assert shared == {"experiment": "many_languages"}
    assert list(runs["configuration"]) == ["strategy=few_shot", "default"]
    assert baseline_label("experiment=many_languages strategy=few_shot",
                          set(runs["configuration"]), shared) == "strategy=few_shot"  # fmt: skip
    adversarial = {"experiment": "many_languages", "strategy": "adversarial"}
    both = {"default", "strategy.objective=confusion"}
    assert baseline_label("strategy.objective=reversal", both, adversarial) == "default"
    assert default_of("strategy.objective", adversarial) == "reversal (default)"
    alone = pd.DataFrame({"config": configs[:1], "configuration": [label(configs[0])]})
    assert without_shared_overrides(alone)[0]["configuration"][0] == label(configs[0])
