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
from xlt.reporting.aggregate import format_table, summarize_runs, varying_keys

BIN = Path(sys.executable).parent
TINY = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false"]  # fmt: skip


def fake_runs() -> pd.DataFrame:
    rows = []
    for strategy, base in (("zero_shot", 0.6), ("linear_probe", 0.4)):
        for seed in (0, 1, 2):
            zh = base + 0.01 * seed
            rows.append({"run_id": f"{strategy}{seed}", "strategy": strategy, "model": "m",
                         "selection": "source_dev", "seed": seed, "source_lang": "en",
                         "test/acc/en": zh + 0.1, "test/acc/zh": zh,
                         "test/acc/avg_target": zh, "test/transfer_gap": 0.1})  # fmt: skip
    rows.append({**rows[0], "run_id": "t", "selection": "target_dev", "test/acc/zh": 0.9})
    return pd.DataFrame(rows)


def test_summary_is_mean_and_std_over_seeds_and_keeps_protocols_apart():
    runs = fake_runs()
    keys = varying_keys(runs)
    assert keys == ["strategy", "selection"]
    summary = summarize_runs(runs).set_index(keys)
    zero = summary.loc[("zero_shot", "source_dev")]
    assert zero["n_seeds"] == 3
    assert zero["test/acc/zh:mean"] == pytest.approx(0.61)
    assert zero["test/acc/zh:std"] == pytest.approx(0.01)
    target_dev = summary.loc[("zero_shot", "target_dev")]  # never averaged with zero-shot runs
    assert target_dev["n_seeds"] == 1 and target_dev["test/acc/zh:mean"] == pytest.approx(0.9)
    table = format_table(summarize_runs(runs), keys)
    assert "0.6100 ± 0.0100" in table["acc zh"].tolist()


@pytest.mark.slow
def test_report_cli_and_reproduce_from_the_manifest(tmp_path, token_cache):
    proc = run_cli(
        ["-m", "strategy=zero_shot,linear_probe", "seed=0,1", *TINY], tmp_path, token_cache
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    store = f"sqlite:///{tmp_path}/outputs/mlflow.db"
    out = tmp_path / "report"
    report = subprocess.run(
        [str(BIN / "xlt-report"), "--tracking-uri", store, "--experiment", "xlt-hsk_topic",
         "--out", str(out)], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "zero_shot" in report.stdout and "linear_probe" in report.stdout and "±" in report.stdout
    summary = pd.read_csv(out / "report.csv")
    assert sorted(summary["strategy"]) == ["linear_probe", "zero_shot"]
    assert (summary["n_seeds"] == 2).all()
    assert (out / "report.md").read_text().count("|") > 10
    assert (out / "accuracy_by_language.png").stat().st_size > 5000
    assert (out / "learning_curves.png").exists()

    client = MlflowClient(tracking_uri=store)
    original = client.search_runs(
        [client.get_experiment_by_name("xlt-hsk_topic").experiment_id],
        filter_string="tags.strategy = 'zero_shot' and tags.seed = '1'",
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
