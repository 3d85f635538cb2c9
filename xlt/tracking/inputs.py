"""The run's data as MLflow dataset inputs (the runs table's Dataset column): one per split and
language the run read, named `DATASET/SPLIT/LANG`, with the data fingerprint as digest, where
the data came from, its columns and the rows read. The context says what the rows were for,
taken from the data-access record: `train`, `unlabelled` (target text without labels),
`translated` (text sent to a translator), `dev` (selection or evaluation) and `test`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xlt.data.access import Purpose
from xlt.data.dataset_splits import DatasetSplits

SCALAR_TYPES = {"string": "string", "large_string": "string", "int64": "long",
                "int32": "integer", "double": "double", "float": "float",
                "bool": "boolean"}  # fmt: skip


def context_of(read: dict[str, Any]) -> str | None:
    """What a data-access entry's rows were for, as an MLflow input context."""
    purpose = Purpose(read["purpose"])
    if purpose == Purpose.training:
        return "train" if read["labelled"] else "unlabelled"
    if purpose == Purpose.translation:
        return "translated"
    if purpose == Purpose.parallel:
        return "parallel"
    if purpose in (Purpose.selection, Purpose.evaluation) and read["split"] in ("dev", "test"):
        return read["split"]
    return None  # sampling draws, dictionaries and initial weights are not datasets


def source_of(data: DatasetSplits, files: dict | None) -> tuple[str, str]:
    """(source type, source JSON) in MLflow's terms: a hub path (with its revision), a local
    folder or files, or the package the data ships in."""
    origin = data.info.get("source", "")
    if origin.startswith("hub:"):
        path = origin.removeprefix("hub:")
        if Path(path).expanduser().is_dir():
            return "local", json.dumps({"uri": str(Path(path).expanduser().resolve())})
        return "hugging_face", json.dumps({"path": path, "revision": data.info.get("revision")})
    if files:
        return "local", json.dumps({"uri": {k: str(v) for k, v in files.items() if v}})
    return "code", json.dumps({"package": origin})


def schema_of(data: DatasetSplits, split: str) -> str:
    """The split's columns in MLflow's column-spec JSON (nested types by their Arrow name)."""
    fields = data.splits[split].data.schema
    specs = [{"name": f.name, "type": SCALAR_TYPES.get(str(f.type), str(f.type))}
             for f in fields]  # fmt: skip
    return json.dumps({"mlflow_colspec": specs})


def dataset_inputs(data: DatasetSplits, name: str, files: dict | None) -> list[dict[str, str]]:
    """What `log_inputs` sends: one entry per (split, language, context) read of the dataset
    `name` (`files`: dataset=local's, the inputs' source)."""
    rows: dict[tuple[str, str, str], int] = {}
    for read in data.access.entries():
        context = context_of(read)
        if context is not None and read["split"] in data.splits:
            key = (read["split"], read["lang"], context)
            rows[key] = max(rows.get(key, 0), read["rows"])
    source_type, source = source_of(data, files)
    return [{"name": f"{name}/{split}/{lang}", "digest": data.fingerprint,
             "source_type": source_type, "source": source, "schema": schema_of(data, split),
             "profile": json.dumps({"num_rows": n}), "context": context}
            for (split, lang, context), n in sorted(rows.items())]  # fmt: skip
