"""The report's "different" calls have a stated error rate and power, checked by simulation
through the report's own functions (xlt/reporting/verdicts.py, as compare_within_protocols
uses them), in both noise regimes of real runs:

- shared rows: a seed shifts a run's accuracy as a whole and test rows agree across seeds (each
  row has one difficulty; fine-tuning runs mostly get the same rows right);
- independent rows: each run's row outcomes are drawn afresh around its accuracy.

The dev set is another such set. Dev scores share the runs' seed shifts, so the default
reference (best source dev) carries the winner's luck into test, as it would in a real report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xlt.reporting.aggregate import compare_within_protocols
from xlt.reporting.configs import label
from xlt.reporting.verdicts import ALPHA, best_by_dev, holm, seed_tests, verdict

ROWS, ACCURACY, REPORTS = 150, 0.56, 500


def accuracies(rng, shift: np.ndarray, regime: str) -> np.ndarray:
    """[reports, configurations, seeds] accuracies on a 150-row set. Shared rows: row i has
    one difficulty for every run, spread evenly ((i + 0.5) / 150), and a run gets right the
    rows below its accuracy; the verdict is about this test set, so its rows stay fixed."""
    p = ACCURACY + shift
    if regime == "shared":
        difficulty = (np.arange(ROWS) + 0.5) / ROWS
        return (difficulty < p[..., None]).mean(-1)
    return (rng.random((*shift.shape, ROWS)) < p[..., None]).mean(-1)


def simulated_verdicts(rng, regime: str, sd: float, configs: int, seeds: int, gap: float = 0.0,
                       reports: int = REPORTS) -> np.ndarray:  # fmt: skip
    """Each simulated report's calls, [reports, configs - 1] booleans: the reference picked by
    dev, every other configuration tested against it, Holm over the report."""
    shift = rng.normal(0, sd, (reports, configs, seeds))
    shift[:, 0] += gap
    test, dev = accuracies(rng, shift, regime), accuracies(rng, shift, regime)
    references = [best_by_dev(dict(enumerate(d.mean(-1)))) for d in dev]
    others = np.array([[i for i in range(configs) if i != r] for r in references])
    picked = np.arange(reports)[:, None]
    differences = test[picked, others] - test[picked, np.array(references)[:, None]]
    _, _, _, p = seed_tests(differences)
    adjusted = holm(p)
    return np.array([[verdict(seeds, q).startswith("yes") for q in row] for row in adjusted])


@pytest.mark.parametrize("regime", ["shared", "independent"])
def test_no_difference_is_called_different_at_most_5_percent_of_the_time(regime):
    rng = np.random.default_rng(20261205)
    worst = 0.0
    for sd in (0.02, 0.035, 0.05):
        for configs in (2, 5, 10):
            for seeds in (3, 5):
                calls = simulated_verdicts(rng, regime, sd, configs, seeds)
                rate, family = calls.mean(), calls.any(1).mean()
                error = np.sqrt(ALPHA * (1 - ALPHA) / calls.size)
                print(f"{regime:11s} seed sd {sd:.3f}  {configs:2d} configurations  {seeds} seeds:"
                      f" {rate:.3f} of comparisons called different (any in a report:"
                      f" {family:.3f})")  # fmt: skip
                assert rate <= ALPHA + 2.5 * error, (regime, sd, configs, seeds, rate)
                worst = max(worst, rate)
    print(f"{regime}: worst false-call rate {worst:.3f}")


def test_a_real_gap_of_005_with_5_seeds_is_called_80_percent_of_the_time():
    rng = np.random.default_rng(7)
    power = simulated_verdicts(rng, "shared", 0.02, 2, 5, gap=0.05, reports=2000).mean()
    independent = simulated_verdicts(rng, "independent", 0.02, 2, 5, gap=0.05, reports=500).mean()
    print(
        f"power, gap 0.05, 5 seeds, seed sd 0.02: shared rows {power:.3f}; independent rows "
        f"{independent:.3f} (their row noise alone has sd {np.sqrt(0.25 / ROWS):.3f} a run)"
    )
    assert power >= 0.80


def test_one_or_two_seeds_never_give_yes():
    assert verdict(1, 0.0) == "too few seeds (1 < 3)"
    assert verdict(2, 1e-9).startswith("too few seeds")
    assert verdict(3, 0.001) == "yes (3 seeds: low power)"
    assert verdict(5, 0.001) == "yes" and verdict(5, 0.2) == "no"


def test_holm_matches_statsmodels_and_leaves_untested_comparisons_out():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    for size in (1, 2, 5, 9):
        p = rng.random(size) ** 3
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    with_gap = holm(np.array([0.01, np.nan, 0.04]))
    assert np.isnan(with_gap[1]) and with_gap[[0, 2]] == pytest.approx([0.02, 0.04])


def per_row_runs(rng, means: dict[str, float], seeds: int, dev: dict[str, float]):
    """Runs with per-row test tables, as xlt-report reads them from MLflow."""
    runs, tables = [], {}
    difficulty = rng.random(ROWS)
    for name, mean in means.items():
        config = {} if name == "zero_shot" else {"strategy": name}
        for seed in range(seeds):
            level = mean + rng.normal(0, 0.02)
            correct = (difficulty < level).astype(float)
            run_id = f"{name}-{seed}"
            tables[run_id] = pd.DataFrame({"lang": "zh", "id": [str(i) for i in range(ROWS)],
                                           "acc": correct})  # fmt: skip
            runs.append({"run_id": run_id, "protocol": "zero-shot", "config": config,
                         "configuration": label(config), "seed": seed, "source_lang": "en",
                         "test/acc/zh": correct.mean(),
                         "best/dev/acc/en": dev[name] + rng.normal(0, 0.001)})  # fmt: skip
    return pd.DataFrame(runs), tables.get


def test_the_report_compares_with_the_best_dev_configuration_not_the_best_test_one():
    rng = np.random.default_rng(3)
    runs, tables_of = per_row_runs(
        rng, {"zero_shot": 0.55, "freeze_lower": 0.56, "multitask": 0.70}, 5,
        dev={"zero_shot": 0.9, "freeze_lower": 0.5, "multitask": 0.6},
    )  # fmt: skip
    compared = compare_within_protocols(runs, tables_of).set_index("configuration")
    assert set(compared["against"]) == {"default"}  # best source dev, though worst on test
    assert compared["reference_by"].iloc[0] == "best mean best/dev/acc/en"
    assert compared.loc["strategy=multitask", "different"] == "yes"
    assert compared.loc["strategy=freeze_lower", "different"] == "no"
    row = compared.loc["strategy=multitask"]
    assert row["low"] <= row["difference"] <= row["high"]
    # another test set adds its rows' noise: never narrower than the seeds' interval
    assert row["new_test_set_low"] <= row["low"] and row["new_test_set_high"] >= row["high"]
    baseline = compare_within_protocols(runs, tables_of, baseline="strategy=multitask")
    assert set(baseline["against"]) == {"strategy=multitask"}


def test_one_seed_per_configuration_gives_no_verdict():
    rng = np.random.default_rng(4)
    runs, tables_of = per_row_runs(rng, {"zero_shot": 0.4, "multitask": 0.8}, 1,
                                   dev={"zero_shot": 0.5, "multitask": 0.6})  # fmt: skip
    (row,) = compare_within_protocols(runs, tables_of).itertuples()
    assert row.common_seeds == 1 and row.different == "too few seeds (1 < 3)"
