"""Runs out of MLflow into one table: a row per run, its tags and its final test metrics."""

from __future__ import annotations

import pandas as pd
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

# Tags that can tell two configurations apart; the table shows those that vary.
CONFIG_TAGS = (
    "dataset", "model", "strategy", "augmentation", "strategy.lr", "source_lang", "selection",
)  # fmt: skip


def fetch_runs(
    client: MlflowClient,
    experiment_names: list[str] | None = None,
    parent_run_id: str | None = None,
    filter_string: str = "",
) -> pd.DataFrame:
    """Finished xlt training runs (not sweep parents) selected by experiment, parent or filter."""
    if parent_run_id:
        parent = client.get_run(parent_run_id)
        experiment_ids = [parent.info.experiment_id]
        clause = f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'"
        filter_string = f"{clause} and {filter_string}" if filter_string else clause
    elif experiment_names:
        experiment_ids = []
        for name in experiment_names:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise ValueError(f"no MLflow experiment named {name!r}")
            experiment_ids.append(experiment.experiment_id)
    else:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiment_ids, filter_string=filter_string, max_results=50000)
    rows = []
    for run in runs:
        tags = run.data.tags
        if tags.get("xlt.sweep") == "true" or run.info.status != "FINISHED":
            continue
        if "strategy" not in tags or not any(k.startswith("test/") for k in run.data.metrics):
            continue
        row = {"run_id": run.info.run_id, "run_name": run.info.run_name}
        row.update({t: tags.get(t, "") for t in CONFIG_TAGS})
        row["seed"] = int(tags.get("seed", "0"))
        row["target_langs"] = tags.get("target_langs", "")
        row["reference_task"] = tags.get("reference_task", "")
        row["reference_model"] = tags.get("reference_model", "")
        row.update({k: v for k, v in run.data.metrics.items() if k.startswith(("test/", "dev/"))})
        rows.append(row)
    return pd.DataFrame(rows)
