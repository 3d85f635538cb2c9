"""Measured results next to published ones: `xlt-report --reference FILE`.

A run matches a reference row by task, model, setting and recipe. Its task and model are the
tags `reference_task` / `reference_model` (experiment configs set them), else its dataset and
model names; its setting is its recorded protocol (`zero-shot`: English TRAIN, English dev
selection), never its strategy's name; its recipe is the tag `reference_recipe` (a run of
XTREME's recipe is compared with XTREME's number, not the XLM-R paper's), and only when the
run followed it (tag `recipe_deviations` = none, xlt/config/recipes.py). Published values
are percentages, and so is the table; runs compared with nothing say why.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xlt.config.recipes import FOLLOWED
from xlt.errors import ConfigError
from xlt.reporting.aggregate import primary_metric
from xlt.reporting.collect import experiment_ids

COLUMNS = ("paper", "table", "recipe", "model", "task", "setting", "metric", "language", "value")
NOT_MEASURED = "not measured here"


def load_references(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ConfigError(
            f"--reference {path}: no such file (e.g. experiments/xtreme/references.csv)"
        )
    refs = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in refs]
    if missing:
        raise ConfigError(f"{path}: missing column(s) {missing}; a reference file has {COLUMNS}")
    values = pd.to_numeric(refs["value"].replace("", "nan"), errors="coerce")
    bad = refs["value"][values.isna() & (refs["value"] != "")]
    if not bad.empty:
        raise ConfigError(f"{path} row {bad.index[0] + 2}: value {bad.iloc[0]!r} is not a number "
                          "(leave it empty for a number still to be added)")  # fmt: skip
    return refs.assign(value=values)


def run_keys(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.copy()
    for claimed, own in (("task", "dataset"), ("model", "model")):  # a claimed name, else own
        column = runs.get(f"reference_{claimed}", pd.Series("", index=runs.index)).fillna("")
        runs[f"ref_{claimed}"] = column.replace("", pd.NA).fillna(runs[own])
    runs["ref_setting"] = runs["protocol"]  # from what the run read, not from its strategy
    runs["ref_recipe"] = [run_recipe(r) for _, r in runs.iterrows()]
    return runs


def run_recipe(run: pd.Series) -> str:
    """The recipe a run followed: its claimed one when checked and followed, `not <recipe>`
    when it differs (or predates the check), "" when it claims none."""
    recipe = run.get("recipe", "") or ""
    if not recipe or run.get("recipe_deviations", "") == FOLLOWED:
        return recipe
    return f"not {recipe}"


def run_value(run: pd.Series, metric: str, language: str) -> float | None:
    """Percent; `avg` is the mean over every language the run tested (source included)."""
    if language != "avg":
        value = run.get(f"test/{metric}/{language}")
        return None if value is None or pd.isna(value) else 100 * float(value)
    prefix = f"test/{metric}/"
    values = [run[c] for c in run.index if c.startswith(prefix) and c != f"{prefix}avg_target"]
    values = [v for v in values if not pd.isna(v)]
    return 100 * sum(values) / len(values) if values else None


def _measured(group: pd.DataFrame, metric: str, language: str) -> tuple[str, float | None, int]:
    values = pd.Series([run_value(r, metric, language) for _, r in group.iterrows()]).dropna()
    if values.empty:
        return NOT_MEASURED, None, 0
    mean, std = float(values.mean()), float(values.std()) if len(values) > 1 else None
    text = f"{mean:.1f}" if std is None else f"{mean:.1f} ± {std:.1f}"
    return text, mean, len(values)


def compare(runs: pd.DataFrame, refs: pd.DataFrame) -> pd.DataFrame:
    """Every reference row (measured or not), then measured groups no reference covers."""
    runs = run_keys(runs) if not runs.empty else runs
    rows, covered = [], set()  # indices of runs compared with a published number
    for _, ref in refs.iterrows():
        key = (ref["task"], ref["model"], ref["setting"])
        group = runs[(runs["ref_task"] == key[0]) & (runs["ref_model"] == key[1])
                     & (runs["ref_setting"] == key[2])
                     & runs["ref_recipe"].isin(["", ref["recipe"]])
                     ] if not runs.empty else runs  # fmt: skip
        measured, mean, n = _measured(group, ref["metric"], ref["language"])
        if n:
            covered.update(group.index)
        published = ref["value"]
        known = not pd.isna(published)  # a template row: the user adds the paper's number
        rows.append(
            {
                "task": key[0], "model": key[1], "setting": key[2], "metric": ref["metric"],
                "language": ref["language"], "measured": measured, "seeds": n,
                "published": f"{published:.1f}" if known else "(add it)",
                "delta": f"{mean - published:+.1f}" if mean is not None and known else "",
                "source": f"{ref['paper']}, {ref['table']}",
            }
        )  # fmt: skip
    left = runs.drop(index=list(covered)) if not runs.empty else runs
    if not left.empty:
        keys = ["ref_task", "ref_model", "ref_setting", "ref_recipe"]
        for (*key, recipe), group in left.groupby(keys, sort=True):
            metric = (
                "csls_p1" if key[0] == "bli" else primary_metric(group.dropna(axis=1, how="all"))
            )
            measured, _, n = _measured(group, metric, "avg")
            rows.append(
                {
                    "task": key[0], "model": key[1], "setting": key[2], "metric": metric,
                    "language": "avg", "measured": measured, "seeds": n, "published": "-",
                    "delta": "", "source": why_unmatched(refs, tuple(key), recipe, group),
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def why_unmatched(
    refs: pd.DataFrame, key: tuple[str, str, str], recipe: str = "", group=None
) -> str:
    """Why a measured group was compared with no published number."""
    task, model, setting = key
    if recipe.startswith("not "):
        found = group["recipe_deviations"].iloc[0] if group is not None else ""
        return f"{recipe[4:]}'s recipe not followed: {found or 'run predates the recipe check'}"
    same = refs[(refs["task"] == task) & (refs["model"] == model)]
    if same.empty:
        return "no published number for this task and model"
    settings = sorted(set(same["setting"]))
    return f"protocol {setting!r}: published numbers here are for {settings} only"


def bli_runs(client, experiment_names: list[str] | None) -> pd.DataFrame:
    """Finished `xlt-align task=bli` runs as rows the comparison reads: one per mapping method
    (the setting), task `bli`, model the tag `reference_model` (e.g. `fasttext-wiki`, set with
    `+logger.tags.reference_model=...`) or the two encoders, metrics `test/<scoring>_<p@k>/
    <src>-<tgt>` (e.g. `test/csls_p1/en-zh`)."""
    ids = experiment_ids(client, experiment_names, None)
    found = client.search_runs(ids, filter_string="tags.task = 'align/bli' and "
                               "attributes.status = 'FINISHED'", max_results=50000)  # fmt: skip
    rows = []
    for run in found:
        tags, pair = run.data.tags, f"{run.data.tags.get('source_lang', 'en')}-" \
                                    f"{run.data.tags.get('target_lang', 'zh')}"  # fmt: skip
        model = "vec-files" if "vectors.source" in tags else \
            f"{tags.get('source_model')}->{tags.get('model')}"  # fmt: skip
        by_method: dict[str, dict] = {}
        for key, value in run.data.metrics.items():
            parts = key.split("/")  # bli/<method>/<scoring>/<p@k>
            if len(parts) == 4 and parts[0] == "bli":
                method = by_method.setdefault(parts[1].replace("_", "+"), {})
                method[f"test/{parts[2]}_{parts[3]}/{pair}"] = value
        for method, metrics in by_method.items():
            rows.append({"dataset": "bli", "model": model, "protocol": method, "recipe": "",
                         "reference_model": tags.get("reference_model", ""),
                         "seed": tags.get("seed", ""), **metrics})  # fmt: skip
    return pd.DataFrame(rows)
