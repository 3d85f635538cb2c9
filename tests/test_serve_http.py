"""From one run to an HTTP answer: `xlt-register RUN_ID NAME` (the champion moves only to a
better source dev score), then `xlt-serve NAME@champion` (MLflow's scoring server in this
environment) answers Chinese and English text with the labels the run predicted."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.servers import background, free_port
from tests.test_logged_models import (
    SMOKE,
    hsk_test_rows,
    run_predictions,
    store,
    two_trial_sweep,
)
from tests.test_report_and_reproduce import BIN


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def register(run_id: str, root: Path) -> str:
    proc = subprocess.run([str(BIN / "xlt-register"), run_id, "topics", "--tracking-uri",
                           store(root)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "XLT_ROOT": str(root)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_register_one_run_serve_it_and_ask_over_http(tmp_path, token_cache):
    client, _, (first, second) = two_trial_sweep(tmp_path, token_cache)
    assert "now models:/topics@champion (no champion yet)" in register(first.info.run_id, tmp_path)
    said = register(second.info.run_id, tmp_path)
    dev = "best/dev/acc/en"
    better = second.data.metrics[dev] > first.data.metrics[dev]
    assert ("now models:/topics@champion" in said) == better, said
    champion = second if better else first
    assert client.get_model_version_by_alias("topics", "champion").run_id == champion.info.run_id

    rows = hsk_test_rows(tmp_path, SMOKE)
    asked = [next(r for r in rows if r["lang"] == lang) for lang in ("zh", "en")]
    expected = run_predictions(client.get_run(champion.info.run_id)).set_index(["lang", "id"])
    port = free_port()
    serve = [str(BIN / "xlt-serve"), "topics@champion", "--port", str(port), "--tracking-uri",
             store(tmp_path)]  # fmt: skip
    with background(serve, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log"):
        answer = post(f"http://127.0.0.1:{port}/invocations",
                      {"dataframe_records": [{"text": r["text"]} for r in asked]})  # fmt: skip
        columns = post(f"http://127.0.0.1:{port}/invocations",
                       {"inputs": {"text": [r["text"] for r in asked]}})  # fmt: skip
        bare = post(
            f"http://127.0.0.1:{port}/invocations",
            {"inputs": [r["text"] for r in asked], "params": {"batch_size": 1}},
        )
    labels = [p["label"] for p in answer["predictions"]]
    assert labels == [expected.loc[(r["lang"], r["id"]), "label"] for r in asked]
    assert [p["label"] for p in columns["predictions"]] == labels  # the columnar form
    assert [p["label"] for p in bare["predictions"]] == labels  # a bare list of texts
    # No path of this machine in MLmodel but the two MLflow writes itself: its store location
    # and the staged code file it copied (neither is read when the model loads elsewhere).
    for mlmodel in (tmp_path / "outputs").rglob("MLmodel"):
        recorded = [
            line
            for line in mlmodel.read_text().splitlines()
            if not line.strip().startswith(("artifact_path:", "model_code_path:"))
        ]
        assert not [
            line
            for line in recorded
            if "/" in line.partition(": ")[2].lstrip("/")
            and (str(tmp_path) in line or REPO in line or "/tmp/" in line)
        ]


REPO = str(Path(__file__).resolve().parents[1])
