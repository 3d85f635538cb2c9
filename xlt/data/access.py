"""What a run read, recorded where the reading happens (the data's `subset`, the translators,
the initial-weights loader), not taken from what a strategy says about itself. The run's
protocol (xlt/evaluation/protocol.py) is computed from this record alone."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

RECORD_FILE = "data_access.json"  # in the run folder, and logged as an MLflow artifact


class Purpose(StrEnum):
    """Why rows were read. Only `evaluation` may touch test labels."""

    training = "training"  # rows that reach a training batch
    sampling = "sampling"  # labels read to draw a sample (few-shot's k per class)
    translation = "translation"  # text read to translate, or gold translations looked up
    dictionary = "dictionary"  # a bilingual word list consulted (code-switching)
    parallel = "parallel"  # gold translation pairs (a sentence, its human translation) aligned on
    selection = "selection"  # dev rows that pick the checkpoint
    evaluation = "evaluation"  # dev/test rows scored and reported, never used to choose
    test_translation = "test_translation"  # dev/test text translated to be scored (translate-test)
    initial_weights = "initial_weights"  # weights of another run this one starts from


@dataclass(frozen=True)
class Access:
    split: str
    lang: str
    labelled: bool
    purpose: Purpose
    detail: str = ""  # translator name, or where initial weights came from


@dataclass
class DataAccess:
    """The run's record: one entry per distinct access, with the most rows read that way."""

    rows: dict[Access, int] = field(default_factory=dict)
    # Protocol flags of runs whose weights this run starts from (path or run id -> flags).
    inherited: dict[str, dict[str, bool]] = field(default_factory=dict)

    def record(
        self,
        split: str,
        lang: str,
        *,
        labelled: bool,
        purpose: Purpose | str,
        rows: int,
        detail: str = "",
    ) -> None:
        key = Access(split, lang, labelled, Purpose(purpose), detail)
        self.rows[key] = max(rows, self.rows.get(key, 0))

    def inherit(self, origin: str, flags: dict[str, bool] | None) -> None:
        """Weights from `origin`; `flags` None: a file whose provenance xlt cannot tell."""
        self.record("weights", "*", labelled=False, purpose=Purpose.initial_weights, rows=0,
                    detail=origin)  # fmt: skip
        self.inherited[origin] = dict(flags) if flags is not None else {"unknown_weights": True}

    def entries(self) -> list[dict[str, Any]]:
        listed = [{**asdict(key), "purpose": key.purpose.value, "rows": n}
                  for key, n in self.rows.items()]  # fmt: skip
        return sorted(listed, key=lambda e: (e["purpose"], e["split"], e["lang"], e["detail"]))

    def to_json(self, **extra: Any) -> str:
        return json.dumps({"reads": self.entries(), "inherited": self.inherited, **extra}, indent=2)


def provenance_flags(weights: str | Path) -> dict[str, bool] | None:
    """The protocol flags of the run that wrote `weights`: its record sits in its run folder
    (a checkpoint in RUN/checkpoints/, an encoder folder with its own record). None: unknown."""
    path = Path(weights)
    for folder in (path if path.is_dir() else path.parent, path.parent.parent):
        record = folder / RECORD_FILE
        if record.is_file():
            return json.loads(record.read_text()).get("flags")
    return None
