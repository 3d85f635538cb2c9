"""xlt-report turns runs into a table and plots; xlt-reproduce reruns a run from its manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.test_cli_end_to_end import run_cli
from xlt.reporting.aggregate import compare_within_protocols, format_table, summarize_runs
from xlt.reporting.configs import label

BIN = Path(sys.executable).parent
TINY = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false"]  # fmt: skip


def fake_runs() -> pd.DataFrame:
    rows = []
    for strategy, base, protocol in (("zero_shot", 0.6, "zero-shot"),
                                     ("linear_probe", 0.4, "zero-shot"),
                                     ("multitask", 0.7, "multilingual")):  # fmt: skip
        config = {} if strategy == "zero_shot" else {"strategy": strategy}
        for seed in (0, 1, 2):
            zh = base + 0.01 * seed
            rows.append({"run_id": f"{strategy}{seed}", "protocol": protocol, "config": config,
                         "configuration": label(config), "seed": seed, "source_lang": "en",
                         "test/acc/en": zh + 0.1, "test/acc/zh": zh})  # fmt: skip
    return pd.DataFrame(rows)


def test_summary_keeps_protocols_apart_with_intervals_and_distinct_seeds():
    runs = fake_runs()
    summary, keys = summarize_runs(runs, lambda run_id: None)
    assert keys == ["strategy"]
    summary = summary.set_index(["protocol", "configuration"])
    zero = summary.loc[("zero-shot", "default")]
    assert zero["n_seeds"] == 3 and zero["interval"] == "seeds only"
    estimate, low, high = zero["acc zh"], zero["acc zh low"], zero["acc zh high"]
    assert estimate == pytest.approx(0.61) and low < 0.61 < high
    assert summary.loc[("multilingual", "strategy=multitask")]["acc zh"] == pytest.approx(0.71)
    compared = compare_within_protocols(runs, lambda run_id: None)
    assert set(compared["protocol"]) == {"zero-shot"}  # multilingual has one configuration
    (row,) = compared.itertuples()
    assert row.configuration == "strategy=linear_probe" and row.against == "default"
    assert row.reference_by.startswith("no source-dev scores")
    assert row.different == "yes (3 seeds: low power)" and row.common_seeds == 3
    table = format_table(summary.reset_index(), keys)
    assert any("0.6100 [" in cell for cell in table["acc zh"])


@pytest.mark.slow
def test_report_cli_and_reproduce_from_the_manifest(tmp_path, token_cache):
    sweep = ["-m", "strategy=zero_shot,multitask", "dataset.batch_size=8,32", "seed=0,1"]
    proc = run_cli([*sweep, *TINY], tmp_path, token_cache, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    store = f"sqlite:///{tmp_path}/outputs/mlflow.db"
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("xlt-hsk_topic").experiment_id
    killed = client.create_run(experiment, tags={"strategy": "zero_shot", "seed": "5"})
    client.set_terminated(killed.info.run_id, "KILLED")  # never resumed: left out and counted
    out = tmp_path / "report"
    report = subprocess.run(
        [str(BIN / "xlt-report"), "--tracking-uri", store, "--experiment", "xlt-hsk_topic",
         "--out", str(out)], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    summary = pd.read_csv(out / "report.csv")
    # batch 32 is the default: no override; batch 8 is its own configuration. Columns: only
    # the keys that differ among the runs (the common tiny-model overrides are not shown)
    shown = sorted(zip(summary["dataset.batch_size"], summary["strategy"], strict=True))
    assert shown == [("32 (default)", "multitask"), ("32 (default)", "zero_shot (default)"),
                     ("8", "multitask"), ("8", "zero_shot (default)")]  # fmt: skip
    for _, rows in summary.groupby("protocol", sort=False):  # best target average first
        assert list(rows["acc avg_target"]) == sorted(rows["acc avg_target"], reverse=True)
    assert "model" not in summary.columns
    assert set(summary["protocol"]) == {"zero-shot", "multilingual"}
    assert (summary["n_seeds"] == 2).all() and (summary["interval"] == "seeds x test rows").all()
    assert summary["acc zh low"].dtype == float and summary["acc zh high"].dtype == float
    assert (summary["acc zh low"] <= summary["acc zh"]).all()  # numbers, not tuple strings
    compared = pd.read_csv(out / "comparisons.csv")
    assert len(compared) == 2 and (compared["common_seeds"] == 2).all()  # within protocols only
    assert set(compared["different"]) == {"too few seeds (2 < 3)"}  # never "yes" on 2 seeds
    assert compared["reference_by"].str.startswith("best mean best/dev/acc/en").all()
    text = (out / "report.md").read_text()
    assert "1 KILLED" in text and "2 (<3!)" in text and "[" in text and "Holm" in text
    run = client.search_runs([experiment], filter_string="tags.strategy = 'multitask'")[0]
    tags = run.data.tags
    assert tags["attention"] and tags["fused_qkv"]
    assert (out / "by_language.png").stat().st_size > 5000
    assert (out / "learning_curves.png").exists()

    original = client.search_runs(
        [experiment], filter_string="tags.strategy = 'zero_shot' and tags.seed = '1'"
    )[0]
    manifest = json.loads(Path(client.download_artifacts(original.info.run_id, "manifest.json",
                                                         str(tmp_path))).read_text())  # fmt: skip
    assert "seed=1" in manifest["overrides"] and "strategy=zero_shot" in manifest["overrides"]
    assert {"torch", "lightning", "transformers", "mlflow"} <= set(manifest["packages"])
    assert manifest["git"]["commit"] and manifest["hardware"]["cpu_count"]
    assert manifest["data_fingerprint"] == original.data.tags["data_fingerprint"]

    again = subprocess.run(
        [str(BIN / "xlt-reproduce"), original.info.run_id, "--tracking-uri", store],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "XLT_ROOT": str(tmp_path), "XLT_CACHE_DIR": str(token_cache)},
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    rerun = client.search_runs(
        [original.info.experiment_id], filter_string=f"tags.reproduces = '{original.info.run_id}'"
    )[0]
    for key in ("test/acc/en", "test/acc/zh"):
        assert rerun.data.metrics[key] == pytest.approx(original.data.metrics[key], abs=1e-6)
