"""A run killed mid-epoch resumes at the step of its last checkpoint, replays the rest of that
epoch (the datamodule checkpoints the epoch's batches and how many were trained), logs no step
twice and ends exactly where an uninterrupted run ends (tiny model, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest

from tests.golden import run_in_process

QUICK = ["model=tiny_random", "dataset.limit=64", "dataset.batch_size=16", "trainer.max_epochs=2",
         "trainer.enable_progress_bar=false", "torch_threads=1", "trainer.log_every_n_steps=1",
         "dataset.eval_batch_size=512", "trainer.checkpoint_every_n_steps=3"]  # fmt: skip
CASES = {"zero_shot": [], "random_order": ["dataset.length_grouped=false"],
         "code_switch": ["augmentation=code_switch"]}  # fmt: skip


class Killed(Exception):
    """Stands for SIGKILL or pre-emption (the SIGKILL itself is tested in test_reliability)."""


class KillOnce(L.Callback):
    """Stops training after optimizer step `step`, the first time only (`marker` remembers)."""

    def __init__(self, step: int, marker: str) -> None:
        self.step, self.marker = step, Path(marker)

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step and not self.marker.exists():
            self.marker.write_text("killed")
            raise Killed(f"killed after step {self.step}")


def losses(out_dir: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return [
        (r["step"], r["metrics"]["train/loss"]) for r in records if "train/loss" in r["metrics"]
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_a_run_killed_mid_epoch_resumes_exactly(case, tmp_path, token_cache):
    overrides = [*QUICK, *CASES[case]]
    whole, whole_dir = run_in_process(overrides, tmp_path, token_cache, f"{case}-whole")
    kill = [f"+callbacks.kill._target_={__name__}.KillOnce", "+callbacks.kill.step=7",
            f"+callbacks.kill.marker={tmp_path / 'killed'}"]  # fmt: skip
    with pytest.raises(Killed):  # 8 steps; the last checkpoint is at step 6, mid-epoch 2
        run_in_process([*overrides, *kill], tmp_path, token_cache, f"{case}-killed")
    resumed, out_dir = run_in_process([*overrides, *kill, "resume=auto"], tmp_path, token_cache,
                                      f"{case}-killed")  # fmt: skip
    assert resumed["test"] == whole["test"]
    logged = losses(out_dir)
    steps = [step for step, _ in logged]
    assert len(steps) == len(set(steps)) == 8  # every step once, none twice
    assert sorted(logged) == losses(whole_dir)  # the same losses, step by step
