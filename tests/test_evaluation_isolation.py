"""Evaluation data is untouchable: for every strategy x augmentation pair the batches that reach
`validation_step` and `test_step` are those of augmentation=none with the same seed, and no
training row (original or augmented, by `orig_id`) is a dev or test item."""

from __future__ import annotations

import itertools
from pathlib import Path

import lightning as L
import pytest
from omegaconf import open_dict

from tests.conftest import compose_train
from xlt.components import build, prepare
from xlt.config.options import group_options

STRATEGIES = group_options("strategy")
AUGMENTATIONS = group_options("augmentation")
QUICK = ["model=tiny_random", "dataset.limit=24", "dataset.batch_size=8",
         "dataset.eval_batch_size=8", "torch_threads=1"]  # fmt: skip
OPTIONS = {"freeze_lower": ["strategy.freeze_layers=1"], "few_shot": ["strategy.k=1"],
           "sequential": ["strategy.k=1"]}  # fmt: skip


class BatchRecorder(L.Callback):
    """The batches as they reach validation_step / test_step."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, tuple]] = []

    def _record(self, split: str, batch: dict, dataloader_idx: int) -> None:
        ids = tuple(batch["input_ids"].flatten().tolist())
        self.seen.append((split, dataloader_idx, ids + tuple(batch["labels"].tolist())))

    def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
        self._record("dev", batch, dataloader_idx)

    def on_test_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
        self._record("test", batch, dataloader_idx)


def components(strategy: str, augmentation: str, root: Path, cache: Path, init: Path | None):
    overrides = [*QUICK, f"strategy={strategy}", f"augmentation={augmentation}"]
    overrides += OPTIONS.get(strategy, [])
    if strategy == "sequential":
        overrides.append(f"strategy.init_from={init}")
    cfg = compose_train(overrides, root=root)
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache)
    return prepare(build(cfg))


def evaluation_batches(parts, checkpoint: Path | None = None) -> list:
    """Two training steps, a validation, a test: the evaluation batches as the module saw them."""
    recorder = BatchRecorder()
    trainer = L.Trainer(max_steps=2, limit_train_batches=2, logger=False, callbacks=[recorder],
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(parts.module, datamodule=parts.datamodule)
    trainer.test(parts.module, datamodule=parts.datamodule, verbose=False)
    if checkpoint is not None:
        trainer.save_checkpoint(checkpoint, weights_only=True)
    return recorder.seen


@pytest.fixture(scope="module")
def reference(tmp_path_factory, token_cache):
    """augmentation=none, zero_shot: the evaluation batches every other pair must match, and a
    checkpoint that `sequential` starts from."""
    root = tmp_path_factory.mktemp("eval-isolation")
    init = root / "init.ckpt"
    batches = evaluation_batches(components("zero_shot", "none", root, token_cache, None), init)
    return batches, root, init


@pytest.mark.parametrize("strategy,augmentation",
                         list(itertools.product(STRATEGIES, AUGMENTATIONS)))  # fmt: skip
def test_evaluation_batches_do_not_depend_on_training_side_choices(
    strategy, augmentation, reference, token_cache
):
    expected, root, init = reference
    parts = components(strategy, augmentation, root, token_cache, init)
    seen = evaluation_batches(parts)
    assert [s for s in seen if s[0] == "test"] == [s for s in expected if s[0] == "test"]
    one_pass = [s for s in expected if s[0] == "dev"]  # the reference validated once
    dev = [s for s in seen if s[0] == "dev"]
    assert dev and len(dev) % len(one_pass) == 0  # every validation pass is the same batches
    assert all(dev[i : i + len(one_pass)] == one_pass for i in range(0, len(dev), len(one_pass)))
    assert_no_leak(parts)


def assert_no_leak(parts) -> None:
    """No training row, original or augmented, is a dev or test item (by item id)."""
    held_out = set()
    for rows in parts.datamodule.eval_examples.values():
        held_out |= set(rows["id"])
    for rows in [*parts.datamodule.train_sets.values(), *parts.datamodule.unlabelled_sets.values()]:
        origin = rows["orig_id"] if "orig_id" in rows.column_names else rows["id"]
        assert not set(origin) & held_out


def test_no_leak_on_local_files_where_one_text_sits_in_two_splits(tmp_path, token_cache):
    """The same sentence in train and test is two items: ids never collide across splits, and
    every augmentation's rows come from train items only."""
    words = (("en", "sentence"), ("de", "Satz"))
    rows = ["text,label,lang"] + [f"{word} {i % 7},{'ab'[i % 2]},{lang}" for i in range(40)
                                  for lang, word in words]  # fmt: skip
    for split in ("train", "dev", "test"):
        (tmp_path / f"{split}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    files = [f"dataset.files.{s}={tmp_path / f'{s}.csv'}" for s in ("train", "dev", "test")]
    # the user's word lists (MUSE format), with which a round trip changes a word
    (tmp_path / "en-de.txt").write_text("sentence Satz\nphrase Phrase\n")
    (tmp_path / "de-en.txt").write_text("Satz phrase\n")
    words = (f"augmentation.translator.dictionaries={{en-de: {tmp_path / 'en-de.txt'}, "
             f"de-en: {tmp_path / 'de-en.txt'}}}")  # fmt: skip
    for augmentation in AUGMENTATIONS:
        chosen = (["augmentation/translator=dictionary", words] if augmentation != "none"
                  else ["dataset.limit=24"])  # fmt: skip
        cfg = compose_train([*QUICK, "dataset=local", *files, f"augmentation={augmentation}",
                             *chosen], root=tmp_path)  # fmt: skip
        with open_dict(cfg):
            cfg.paths.cache_dir = str(token_cache)
        assert_no_leak(prepare(build(cfg)))
