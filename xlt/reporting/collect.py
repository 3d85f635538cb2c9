"""Runs out of MLflow into one table: a row per finished run with its protocol, configuration
(xlt/reporting/configs.py), seed and final metrics; runs that did not finish are counted."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from xlt.reporting.configs import configuration, label, parse_overrides

PREDICTIONS = "test_predictions.csv"
UNRECORDED = "unrecorded"  # runs from before xlt recorded protocols
NUMERICS = ("precision", "attention", "fused_qkv")  # tags: how it computed


@dataclass
class Collected:
    runs: pd.DataFrame  # one row per finished run
    left_out: Counter = field(default_factory=Counter)  # status -> runs not reported
    repeats: int = 0  # runs set aside because a later run of the same seed exists
    shared: dict[str, str] = field(default_factory=dict)  # overrides every run gave alike


def experiment_ids(client: MlflowClient, names: list[str] | None, parent: str | None) -> list:
    if parent:
        return [client.get_run(parent).info.experiment_id]
    if not names:
        return [e.experiment_id for e in client.search_experiments()]
    ids = []
    for name in names:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise ValueError(f"no MLflow experiment named {name!r}")
        ids.append(experiment.experiment_id)
    return ids


def run_row(run) -> dict:
    tags = run.data.tags
    config = configuration(parse_overrides(tags.get("job_overrides", "")))
    row = {"run_id": run.info.run_id, "run_name": run.info.run_name,
           "start_time": run.info.start_time, "protocol": tags.get("protocol", UNRECORDED),
           "configuration": label(config), "config": config,
           "seed": int(tags.get("seed", "0")), "selection": tags.get("selection", ""),
           "source_lang": tags.get("source_lang", ""), "dataset": tags.get("dataset", ""),
           "model": tags.get("model", ""), "strategy": tags.get("strategy", ""),
           "augmentation": tags.get("augmentation", ""),
           "target_langs": tags.get("target_langs", ""),
           "reference_task": tags.get("reference_task", ""),
           "reference_model": tags.get("reference_model", ""),
           "recipe": tags.get("reference_recipe", ""),
           "recipe_deviations": tags.get("recipe_deviations", ""),
           "git_commit": tags.get("git_commit", ""), "golden_digest": tags.get("golden_digest", ""),
           "numerics": {k: numerics_value(k, tags.get(k, "")) for k in NUMERICS}}  # fmt: skip
    metrics = run.data.metrics.items()
    row.update({k: v for k, v in metrics if k.startswith(("test/", "dev/", "best/dev/"))})
    return row


def numerics_value(key: str, value: str) -> str:
    """`bf16-mixed` -> `bf16`, `32-true` -> `fp32`; other tags as they are."""
    if key == "precision":
        return {"32-true": "fp32", "32": "fp32", "bf16-mixed": "bf16", "bf16-true": "bf16-true",
                "16-mixed": "fp16"}.get(value, value)  # fmt: skip
    return value


def split_by_numerics(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that computed differently (bf16 vs fp32, another attention kernel, defaults set by
    the environment) never share a cell: each such tag that varies joins the configuration."""
    if runs.empty:
        return runs
    varying = [k for k in NUMERICS if len({r[k] for r in runs["numerics"]}) > 1]
    if varying:
        pairs = zip(runs["config"], runs["numerics"], strict=True)
        runs["config"] = [{**c, **{k: n[k] or "(untagged)" for k in varying}} for c, n in pairs]
        runs["configuration"] = [label(c) for c in runs["config"]]
    return runs.drop(columns=["numerics"])


def fetch_runs(
    client: MlflowClient,
    experiment_names: list[str] | None = None,
    parent_run_id: str | None = None,
    filter_string: str = "",
) -> Collected:
    """xlt training runs (not sweep parents) selected by experiment, parent or filter."""
    if parent_run_id:
        clause = f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'"
        filter_string = f"{clause} and {filter_string}" if filter_string else clause
    ids = experiment_ids(client, experiment_names, parent_run_id)
    found = client.search_runs(ids, filter_string=filter_string, max_results=50000)
    rows, left_out = [], Counter()
    for run in found:
        tags = run.data.tags
        if tags.get("xlt.sweep") == "true" or "strategy" not in tags:
            continue
        if run.info.status != "FINISHED" or not any(
            k.startswith("test/") for k in run.data.metrics
        ):
            left_out[run.info.status] += 1
            continue
        rows.append(run_row(run))
    runs, shared = without_shared_overrides(split_by_numerics(pd.DataFrame(rows)))
    collected = latest_per_seed(runs, left_out)
    collected.shared = shared
    return collected


def without_shared_overrides(runs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Overrides every run gave alike (`experiment=many_languages` in each trial of its sweep)
    say nothing about how configurations differ: out of the labels, into the report's notes.
    Kept where the runs are one configuration (its label would read `default`)."""
    if runs.empty or runs["configuration"].nunique() < 2:
        return runs, {}
    first, *others = list(runs["config"])
    shared = {k: v for k, v in first.items() if all(o.get(k) == v for o in others)}
    if shared:
        runs["config"] = [{k: v for k, v in c.items() if k not in shared} for c in runs["config"]]
        runs["configuration"] = [label(c) for c in runs["config"]]
    return runs, shared


def latest_per_seed(runs: pd.DataFrame, left_out: Counter) -> Collected:
    """Repeated runs of one seed within a configuration: the latest is kept (and counted)."""
    if runs.empty:
        return Collected(runs, left_out)
    keys = ["protocol", "configuration", "seed"]
    latest = runs.sort_values("start_time").groupby(keys, sort=False).tail(1)
    return Collected(latest.sort_values(keys).reset_index(drop=True), left_out,
                     len(runs) - len(latest))  # fmt: skip


def predictions(client: MlflowClient, run_id: str, cache: dict) -> pd.DataFrame | None:
    """A run's per-row test scores (None for runs that did not log them)."""
    if run_id not in cache:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = client.download_artifacts(run_id, PREDICTIONS, tmp)
                cache[run_id] = pd.read_csv(Path(path), dtype={"id": str})
        except Exception:  # older runs, or an artifact store that is out of reach
            cache[run_id] = None
    return cache[run_id]
