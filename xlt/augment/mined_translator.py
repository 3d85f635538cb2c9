"""`augmentation/translator=mined`: translate-train without a translation system, from the
pairs an xlt-align mining run found in unlabelled text (`task=bitext task.pool.split=train`,
or your own pools): `mined_pairs.tsv` by path or the mining run's id.

A source row gets the mined target sentence of its id (tables mined from the dataset) or of
its exact text (tables mined from files), above `threshold`; a row without one stays
untranslated and is counted. The pool may only have held TRAIN text: a mining run whose pool
was not the TRAIN split is refused, and so is a table with a target sentence that exists only
in the dev or test sets.
"""

from __future__ import annotations

import csv
from pathlib import Path

from xlt.augment.translators import Translator
from xlt.data.access import Purpose
from xlt.errors import ConfigError, DataError
from xlt.models.init_encoder import RUN_ID
from xlt.tracking.store import run_in_store

TABLE_FILE = "mined_pairs.tsv"  # what xlt-align writes (xlt/align/tasks/train_mining.py)
POOL_TAG = "mining.pool"  # the mining run's tag: which split its pools came from


class MinedTranslator(Translator):
    """Pairs an xlt-align mining run found in unlabelled TRAIN text (by the run's id or a
    mined_pairs.tsv), looked up by source row id or text, above a score threshold."""

    name = "mined"

    def __init__(
        self, pairs: str, threshold: float | None = None, tracking_uri: str | None = None
    ) -> None:
        if not pairs:
            raise ConfigError("augmentation.translator.pairs: give mined_pairs.tsv or the id "
                              "of the xlt-align mining run that wrote it")  # fmt: skip
        self.pairs, self.threshold, self.tracking_uri = str(pairs), threshold, tracking_uri
        self._rows: list[dict] | None = None

    def params(self) -> dict:
        path = self.table_path()
        return {"pairs": self.pairs, "threshold": self.threshold,
                "size": path.stat().st_size, "mtime": path.stat().st_mtime_ns}  # fmt: skip

    def table_path(self) -> Path:
        if not RUN_ID.match(self.pairs):
            path = Path(self.pairs).expanduser()
            if not path.is_file():
                raise DataError(f"augmentation.translator.pairs: no file {path}")
            return path
        from mlflow import MlflowClient

        client = MlflowClient(self.tracking_uri)
        run = run_in_store(client, self.pairs, "augmentation.translator.pairs")
        pool = run.data.tags.get(POOL_TAG)
        if pool != "train":
            raise DataError(f"run {self.pairs} did not mine TRAIN text (tag {POOL_TAG}={pool}); "
                            "mine with `xlt-align task=bitext task.pool.split=train`")  # fmt: skip
        return Path(client.download_artifacts(self.pairs, TABLE_FILE))

    def rows(self) -> list[dict]:
        """The table's pairs at or above the threshold."""
        if self._rows is None:
            with self.table_path().open(encoding="utf-8") as handle:
                table = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
            if not table or not {"source", "target", "score"} <= set(table[0]):
                raise DataError(f"{self.pairs}: not a mined_pairs.tsv (columns source, target, "
                                "score)")  # fmt: skip
            keep = self.threshold
            self._rows = [r for r in table if keep is None or float(r["score"]) >= keep]
        return self._rows

    def table(self, tgt: str) -> tuple[dict[str, dict], str]:
        """Pairs for target language `tgt`, keyed by source id (or text), and the key."""
        rows = [r for r in self.rows() if r.get("lang", tgt) == tgt]
        key = "source_id" if rows and "source_id" in rows[0] else "source"
        return {r[key]: r for r in rows}, key

    def check_pool(self, data, tgt: str) -> None:
        """No mined target sentence may come only from the dev or test sets."""
        train, evaluation = texts_of(data, ("train",), tgt), texts_of(data, ("dev", "test"), tgt)
        leaked = [r["target"] for r in self.table(tgt)[0].values()
                  if r["target"] in evaluation and r["target"] not in train]  # fmt: skip
        if leaked:
            raise DataError(f"{self.pairs}: {len(leaked)} mined {tgt} sentences are dev/test "
                            f"text (e.g. {leaked[0][:40]!r}); a mining pool may only hold TRAIN "
                            "text")  # fmt: skip

    def cannot_translate(self, src, tgt, data, split):
        if split != "train":
            return ("its pairs were mined from TRAIN text for translate-train; it holds no "
                    f"translations of {split} rows")  # fmt: skip
        return None

    def translate(self, texts, ids, src, tgt, data):
        self.check_pool(data, tgt)
        table, key = self.table(tgt)
        data.access.record("train", tgt, labelled=False, purpose=Purpose.translation,
                           rows=len(table), detail=f"mined:{self.pairs}: {tgt} TRAIN text "
                           "mined into a translation table")  # fmt: skip
        self.record(data, src, tgt, len(texts))
        keys = ids if key == "source_id" else texts
        return [table[k]["target"] if k in table else None for k in keys]

    def metrics(self, tgt: str) -> dict[str, float]:
        """Pairs used, and their share of gold translations where the mining run knew them."""
        table, _ = self.table(tgt)
        out = {f"mined/{tgt}/pairs": float(len(table))}
        golds = [int(r["gold"]) for r in table.values() if r.get("gold") not in (None, "")]
        if golds:
            out[f"mined/{tgt}/precision_vs_gold"] = sum(golds) / len(golds)
        return out


def texts_of(data, splits: tuple[str, ...], lang: str) -> set[str]:
    """Every text of `lang` in the given splits."""
    return {text for split in splits if split in data.splits
            for text, row_lang in zip(data.splits[split]["text"], data.splits[split]["lang"],
                                      strict=True)
            if row_lang == lang}  # fmt: skip
