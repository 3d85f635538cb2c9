"""xlt against real tracking infrastructure: a PostgreSQL-backed MLflow server over HTTP, and
the MLflow UI opened in headless Chromium."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from tests.servers import background, free_port, mlflow_server, postgres_server
from tests.test_cli_end_to_end import run_cli

TINY = ["model=tiny_random", "dataset.limit=48", "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false", "strategy=zero_shot,linear_probe"]  # fmt: skip
REPO = Path(__file__).resolve().parent.parent
SCREENSHOT_DIR = Path(os.environ.get("XLT_TEST_ARTIFACTS", REPO / "outputs" / "test-artifacts"))


def sweep_parent_and_children(client: MlflowClient):
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parents = [r for r in runs if r.data.tags.get("xlt.sweep") == "true"]
    children = [r for r in runs if MLFLOW_PARENT_RUN_ID in r.data.tags]
    return parents, children


@pytest.mark.slow
def test_sweep_over_http_to_a_postgresql_backed_mlflow_server(tmp_path, token_cache):
    import psycopg2

    with (
        postgres_server() as backend,
        mlflow_server(backend, tmp_path / "artifacts", tmp_path / "server.log") as url,
    ):
        proc = run_cli(["-m", f"logger.tracking_uri={url}", *TINY], tmp_path, token_cache, 600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        client = MlflowClient(tracking_uri=url)
        parents, children = sweep_parent_and_children(client)
        assert len(parents) == 1 and len(children) == 2
        assert parents[0].info.status == "FINISHED"
        child = children[0]
        assert "test/acc/zh" in child.data.metrics
        config = client.download_artifacts(child.info.run_id, "config.yaml", str(tmp_path))
        assert "tiny_random" in Path(config).read_text()  # artifacts served by the server
        host_port = backend.split("@")[1].split("/")[0]
        host, port = host_port.split(":")
        with psycopg2.connect(host=host, port=int(port), user="postgres", dbname="mlflow") as db:
            cursor = db.cursor()
            cursor.execute("select count(*) from runs")
            assert cursor.fetchone()[0] == 3  # the runs really live in PostgreSQL
    assert not (tmp_path / "outputs" / "mlflow.db").exists()  # nothing went to the local store


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(
    chromium() is None and not os.environ.get("CI"), reason="chromium not installed (.ci/run does)"
)
def test_mlflow_ui_shows_the_sweep_with_its_nested_children(tmp_path, token_cache):
    """The runs table's Dataset column (names and the data fingerprint as digest) and Models
    column (the registered champion), and the registered model's page with its alias."""
    from playwright.sync_api import sync_playwright

    proc = run_cli(["-m", *TINY, "logger.log_model=true"], tmp_path, token_cache, 600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = f"sqlite:///{tmp_path}/outputs/mlflow.db"
    parents, children = sweep_parent_and_children(MlflowClient(tracking_uri=store))
    from xlt.reporting.cli import main as report

    assert report(["--parent", parents[0].info.run_id, "--register", "topics",
                   "--tracking-uri", store]) == 0  # fmt: skip
    port = free_port()
    ui = [str(Path(sys.executable).parent / "xlt-ui"), "--port", str(port), "--tracking-uri", store]
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shots = [SCREENSHOT_DIR / "mlflow_ui_sweep.png", SCREENSHOT_DIR / "mlflow_ui_champion.png",
             SCREENSHOT_DIR / "mlflow_ui_run_plots.png"]  # fmt: skip
    with (
        background(ui, f"http://127.0.0.1:{port}/health", tmp_path / "ui.log"),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1800, "height": 900})
        experiment = parents[0].info.experiment_id
        page.goto(f"http://127.0.0.1:{port}/#/experiments/{experiment}/runs")
        parent_row = page.get_by_role("row").filter(has_text=parents[0].info.run_name)
        parent_row.wait_for(timeout=60_000)
        parent_row.get_by_role("button").first.click()  # expand the nested children
        for child in children:
            page.get_by_text(child.info.run_name, exact=True).wait_for(timeout=30_000)
        page.locator('a[href="#/models/topics/versions/1"]').wait_for(timeout=30_000)
        page.screenshot(path=str(shots[0]))
        text = page.inner_text("body")
        page.goto(f"http://127.0.0.1:{port}/#/models/topics")
        page.get_by_text("champion").first.wait_for(timeout=30_000)
        page.screenshot(path=str(shots[1]))
        model_page = page.inner_text("body")
        child = children[0].info.run_id  # its page shows the run's plots
        page.goto(f"http://127.0.0.1:{port}/#/experiments/{experiment}/runs/{child}/artifacts/"
                  "plots/learning_curve.png")  # fmt: skip
        page.wait_for_function(SHOWN_IMAGE_WIDTH + " > 300", timeout=60_000)  # the PNG, drawn
        page.screenshot(path=str(shots[2]))
        artifacts_page = page.inner_text("body")
        plot_width = page.evaluate(SHOWN_IMAGE_WIDTH)
        logged = MlflowClient(tracking_uri=store).get_run(child).data.tags["model_uri"]
        page.goto(f"http://127.0.0.1:{port}/#/experiments/{experiment}/models/"
                  f"{logged.removeprefix('models:/')}")  # fmt: skip
        page.get_by_text("Datasets used").wait_for(timeout=30_000)
        page.get_by_text("hsk_topic/test/zh").first.wait_for(timeout=30_000)
        page.screenshot(path=str(SCREENSHOT_DIR / "mlflow_ui_logged_model.png"))
        logged_model_page = page.inner_text("body")
        browser.close()
    assert parents[0].info.run_name in text
    assert all(child.info.run_name in text for child in children)
    fingerprint = children[0].data.tags["data_fingerprint"]
    assert f"hsk_topic/test/zh ({fingerprint})" in text  # the Dataset column: name (digest)
    assert "Version 1" in model_page and "champion" in model_page
    assert "test_by_language.png" in artifacts_page and plot_width > 300  # the image loaded
    assert all(shot.stat().st_size > 10_000 for shot in shots)
    # the logged model's page: the test sets it was measured on, and who made it
    assert "hsk_topic/test/en" in logged_model_page and "hsk_topic/test/zh" in logged_model_page
    assert "unrecorded" in logged_model_page and "root" not in logged_model_page.split()


# The widest image the artifact viewer shows (it renders a PNG artifact from a blob: URL).
SHOWN_IMAGE_WIDTH = (
    "Math.max(0, ...Array.from(document.images)"
    ".filter(i => i.src.startsWith('blob:')).map(i => i.naturalWidth))"
)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
