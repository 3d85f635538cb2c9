"""An augmentation turns the raw (untokenised) source training rows into the rows training sees,
in one or both of two declared ways:

- a data transform (`build`): static rows made once before tokenisation, cached on disk by a
  fingerprint of their inputs;
- a train-time batch transform (`batch_transform`): rows rewritten as each training batch is
  made (dynamic code-switching). The datamodule applies it to training loaders only.

It sees TRAIN data only (the source rows it is given, and other languages' TRAIN split through
`DatasetSplits`, every read recorded): dev/test text never reaches it. Every row it adds keeps
provenance: `orig_id` (the item it came from), `aug` (which augmentation made it) and `lang`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, concatenate_datasets, load_from_disk

from xlt.data.dataset_splits import DatasetSplits, arrow_column, column_digest
from xlt.errors import ConfigError

log = logging.getLogger(__name__)
COLUMNS = ("id", "text", "label", "lang", "orig_id", "aug")
READS = "data_access.json"  # what building the cached rows read
# Below this share of rows rewritten for a language, the run warns (and logs the share as
# `augment/coverage/<lang>`): most of that language's "augmented" data is the original.
COVERAGE_WARNING = 0.5
KEPT = ("original", "target_train")  # rows an augmentation passes through unchanged


@dataclass
class AugmentContext:
    """What an augmentation knows about the run."""

    source: str
    targets: list[str]
    seed: int
    cache_dir: str
    limit: int | None = None  # dataset.limit: other languages' TRAIN reads are capped alike


class BatchTransform:
    """A train-time rewrite of raw rows (each a dict with `text`, `lang`, `input_ids`...) before
    padding. Applied to training batches only; evaluation batches never pass through it."""

    def __call__(self, rows: list[dict]) -> list[dict]:
        raise NotImplementedError

    def counters(self) -> dict[str, float]:
        """What it did so far, logged as `augment/<name>` metrics."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Its random state, saved in checkpoints so that a resumed run draws the same."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""


def rows(ids, texts, labels, langs, orig_ids, aug: str) -> Dataset:
    return Dataset.from_dict(
        {
            "id": list(ids),
            "text": list(texts),
            "label": list(labels),
            "lang": list(langs),
            "orig_id": list(orig_ids),
            "aug": [aug] * len(ids),
        }
    )


def originals(ds: Dataset) -> Dataset:
    """The untouched rows (every column: a pair's second text too), with provenance columns so
    they concatenate with augmented ones (Arrow columns: no Python object per row)."""
    import pyarrow as pa

    ds = ds.add_column("orig_id", arrow_column(ds, "id").combine_chunks(),
                       new_fingerprint=f"{ds._fingerprint}-orig_id")  # fmt: skip
    return ds.add_column("aug", pa.repeat("original", len(ds)),
                         new_fingerprint=f"{ds._fingerprint}-aug")  # fmt: skip


class Augmentation:
    """A data transform, a train-time batch transform, or both. One that would change nothing
    for a language refuses before training (its name would label plain zero-shot data);
    `coverage` says per language which share of the rows it changed."""

    name = "base"
    tasks: tuple[str, ...] = ("classification",)  # task families whose rows it can rewrite
    translator = None  # the Translator an augmentation translates with, if any
    languages: list[str] | None = None  # the languages it writes (None: every target)
    # It reports `augment/untranslated`: source rows no translation reached (translate-train).
    reports_untranslated = False
    # It hands the source rows over unchanged (`none`): the datamodule reads them directly.
    passes_rows_through = False
    cache_status = "none"  # its static rows: "hit", "built", "dynamic" (made per batch)
    coverage: dict[str, float] = {}  # noqa: RUF012  (set per instance by `apply`)

    def translation_pairs(self, ctx: AugmentContext) -> list[tuple[str, str]]:
        """(from, into) language pairs its translator must serve (none without one)."""
        return []

    def refuse_unchangeable(self, data: DatasetSplits, ctx: AugmentContext) -> None:
        """One line, before anything is built, for a pair the translator cannot serve."""
        for src, tgt in self.translation_pairs(ctx):
            if reason := self.translator.cannot_translate(src, tgt, data, "train"):
                raise ConfigError(
                    f"augmentation={self.name}: translator {self.translator.name} cannot "
                    f"translate {src}->{tgt} ({reason}), so the run would be plain zero-shot "
                    "under another name; choose another augmentation/translator=..., or leave "
                    f"{tgt if tgt != ctx.source else src} out (dataset.target_langs)"
                )

    def coverage_of(self, built: Dataset, train: Dataset, data, ctx) -> dict[str, float]:
        """Per language written: the share of its input rows that an augmented row came from."""
        changed: dict[str, set] = {}
        for lang, origin, aug in zip(built["lang"], built["orig_id"], built["aug"], strict=True):
            if aug not in KEPT:
                changed.setdefault(lang, set()).add(origin)
        written = [tgt for _, tgt in self.translation_pairs(ctx)] or list(ctx.targets)
        return {lang: len(changed.get(lang, ())) / max(1, len(train)) for lang in written}

    def check_coverage(self, coverage: dict[str, float]) -> None:
        """Nothing changed for a language: refuse; little changed: warn."""
        self.coverage = coverage
        for lang, share in sorted(coverage.items()):
            if share == 0:
                raise ConfigError(
                    f"augmentation={self.name} changed no row for {lang} (translator "
                    f"{getattr(self.translator, 'name', 'none')}): the run would be plain "
                    "zero-shot under another name; choose another augmentation/translator=..."
                )
            if share < COVERAGE_WARNING:
                log.warning("augmentation %s changed only %.0f%% of the rows for %s (below "
                            "%.0f%%): most of its data is the original", self.name, 100 * share,
                            lang, 100 * COVERAGE_WARNING)  # fmt: skip

    def params(self) -> dict:
        return {}

    def fingerprint(self) -> str:
        key = json.dumps([self.name, self.params()], sort_keys=True, default=str)
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    def build(self, train: Dataset, data: DatasetSplits, ctx: AugmentContext) -> Dataset:
        raise NotImplementedError

    def batch_transform(
        self, encode: Callable[[str], list[int]], ctx: AugmentContext
    ) -> BatchTransform | None:
        """The train-time transform (None: this augmentation has none). `encode` tokenises one
        rewritten text exactly as the training data was tokenised."""
        return None

    def apply(self, train: Dataset, data: DatasetSplits, ctx: AugmentContext) -> Dataset:
        """`build`, cached by (data, rows, augmentation and translator parameters, seed). The
        reads `build` made are saved with the rows and recorded again on a cache hit, so a
        cached run's data-access record is the same as the run that built it."""
        key = json.dumps(
            [
                data.fingerprint,
                self.fingerprint(),
                ctx.seed,
                ctx.targets,
                ctx.limit,
                column_digest(train),
            ],
            default=str,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        folder = Path(ctx.cache_dir).expanduser() / "augmented" / f"{self.name}-{digest}"
        self.refuse_unchangeable(data, ctx)
        if (folder / "dataset_info.json").exists() and (folder / READS).exists():
            log.info("augmentation %s: cache hit (%s)", self.name, folder)
            self.cache_status = "hit"
            built = load_from_disk(str(folder))
            self.check_coverage(self.coverage_of(built, train, data, ctx))
            for read in json.loads((folder / READS).read_text()):
                data.access.record(**read)
            return built
        before = dict(data.access.rows)
        built = self.build(train, data, ctx).select_columns(list(COLUMNS))
        self.check_coverage(self.coverage_of(built, train, data, ctx))
        reads = [{**asdict(k), "purpose": k.purpose.value, "rows": n}
                 for k, n in data.access.rows.items() if before.get(k) != n]  # fmt: skip
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".aug-", dir=folder.parent))
        built.save_to_disk(str(staging))
        (staging / READS).write_text(json.dumps(reads))
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
        log.info("augmentation %s: built %d rows into %s", self.name, len(built), folder)
        self.cache_status = "built"
        return load_from_disk(str(folder))


def concat(parts: list[Dataset]) -> Dataset:
    return concatenate_datasets([p for p in parts if len(p)])
