"""Translate-train from mined pairs: xlt-align mines HSK's TRAIN text (no row's own translation
in its pool), xlt-train trains on the table by the mining run's id, and pools that touched
dev or test are refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from omegaconf import open_dict

from tests.test_align_tasks import compose_align
from tests.test_cli_end_to_end import run_cli
from xlt.align.cli import run as align
from xlt.errors import XltError

SMOKE = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
         "trainer.enable_progress_bar=false", "augmentation=translate_train",
         "augmentation/translator=mined"]  # fmt: skip


def mine(tmp_path: Path) -> tuple[str, list[dict]]:
    cfg = compose_align(["task=bitext", "task.pool.split=train", "model@encoder=tiny_random"],
                        tmp_path)  # fmt: skip
    with open_dict(cfg):
        cfg.logger.tracking_uri = f"sqlite:///{tmp_path}/outputs/mlflow.db"
    align(cfg)
    run = MlflowClient(cfg.logger.tracking_uri).search_runs(
        [MlflowClient(cfg.logger.tracking_uri).get_experiment_by_name("xlt-align").experiment_id]
    )[0]
    with (tmp_path / "run" / "mined_pairs.tsv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return run.info.run_id, table


@pytest.mark.slow
def test_translate_train_on_pairs_mined_from_train_text(tmp_path, token_cache):
    run_id, table = mine(tmp_path)
    assert table and all(r["source_id"] != r["target_id"] for r in table)  # not the gold table
    assert all(r["lang"] == "zh" for r in table)
    proc = run_cli([*SMOKE, f"augmentation.translator.pairs={run_id}"], tmp_path, token_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path}/outputs/mlflow.db")
    train = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])[0]
    metrics = train.data.metrics
    assert metrics["augment/mined/zh/pairs"] == len(table)
    assert 0 <= metrics["augment/mined/zh/precision_vs_gold"] < 0.1  # own translations excluded
    assert metrics["augment/n_translate_train"] + metrics["augment/untranslated"] == 48
    assert train.data.tags["protocol"] == "translate-train"
    record = json.loads((Path(train.data.tags["output_dir"]) / "data_access.json").read_text())
    mined = [r for r in record["reads"] if r["detail"].startswith(f"mined:{run_id}")]
    assert mined and mined[0]["split"] == "train" and not mined[0]["labelled"]


def test_a_pool_that_touched_dev_or_test_is_refused(tmp_path):
    from xlt.augment.mined_translator import MinedTranslator
    from xlt.data.sources.hsk import load_hsk

    data = load_hsk(cache_dir=str(tmp_path / "cache"))
    dev_only = next(t for t, lang in zip(data.splits["dev"]["text"], data.splits["dev"]["lang"],
                                         strict=True) if lang == "zh")  # fmt: skip
    table = tmp_path / "mined_pairs.tsv"
    table.write_text(f"source\ttarget\tscore\nHello.\t{dev_only}\t1.2\n", encoding="utf-8")
    with pytest.raises(XltError, match="only hold TRAIN text"):
        MinedTranslator(str(table)).translate(["Hello."], ["x"], "en", "zh", data)
    cfg = compose_align(["task=bitext", "task.pool.split=test"], tmp_path)
    with pytest.raises(XltError, match="only hold TRAIN text"):
        align(cfg)


def test_a_run_that_mined_no_train_text_is_refused(tmp_path):
    from xlt.augment.mined_translator import MinedTranslator

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("other"))  # not a mining run
    with pytest.raises(XltError, match="did not mine TRAIN text"):
        MinedTranslator(run.info.run_id, tracking_uri=uri).rows()
