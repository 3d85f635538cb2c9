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
# overrides, the step after which the run is killed, the steps of the whole run
CASES = {"zero_shot": ([], 7, 8), "random_order": (["dataset.length_grouped=false"], 7, 8),
         "code_switch": (["augmentation=code_switch"], 7, 8),
         # two languages' batches by temperature, killed in epoch 2: epoch 3's draw depends on
         # the sampler's epoch counter (checkpointed with its place in the epoch)
         "multitask": (["strategy=multitask", "trainer.max_epochs=3"], 13, 24),
         # killed in its second stage (k per class of the target), which resumes from its own
         # checkpoint after the first stage's selected weights
         # two streams per step (labelled source, unlabelled target): both places checkpointed
         "adversarial": (["strategy=adversarial"], 7, 8),
         # 64 labelled EN rows (4 batches) beside 24 unlabelled DE rows (2 batches, restarted
         # twice an epoch): the checkpoint at step 6 falls right after the DE stream restarted
         # for the batch Lightning fetched ahead
         "adversarial_cycling": (["strategy=adversarial"], 7, 8),
         "sequential": (["strategy=sequential", "strategy.train_on=source"], 7, 8),
         "few_shot": (["strategy=few_shot", "strategy.k=2", "strategy.target_epochs=3"], 10,
                      11)}  # fmt: skip


class Killed(Exception):
    """Stands for SIGKILL or pre-emption (the SIGKILL itself is tested in test_reliability)."""


class KillOnce(L.Callback):
    """Stops training after optimizer step `step` of the run (all stages counted), the first
    time only (`marker` remembers)."""

    def __init__(self, step: int, marker: str) -> None:
        self.step, self.marker = step, Path(marker)

    def on_train_batch_end(self, trainer, module, *args) -> None:
        if module.step_offset + trainer.global_step == self.step and not self.marker.exists():
            self.marker.write_text("killed")
            raise Killed(f"killed after step {self.step}")


def losses(out_dir: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return [
        (r["step"], r["metrics"]["train/loss"]) for r in records if "train/loss" in r["metrics"]
    ]


def uneven_languages(folder: Path) -> list[str]:
    """dataset=local files: 64 English training rows, 24 German ones, a few dev and test."""
    import json

    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, sizes: dict[str, int]) -> Path:
        rows = [{"text": f"{lang} text {i} word{i % 7} w{i % 3}", "label": ["pos", "neg"][i % 2],
                 "lang": lang} for lang, n in sizes.items() for i in range(n)]  # fmt: skip
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
        return folder / name

    files = {"train": write("train.jsonl", {"en": 64, "de": 24}),
             "dev": write("dev.jsonl", {"en": 8, "de": 8}),
             "test": write("test.jsonl", {"en": 8, "de": 8})}  # fmt: skip
    return ["dataset=local", *(f"dataset.files.{k}={v}" for k, v in files.items())]


@pytest.mark.parametrize("case", list(CASES))
def test_a_run_killed_mid_epoch_resumes_exactly(case, tmp_path, token_cache):
    extra, kill_step, n_steps = CASES[case]
    overrides = [*QUICK, *extra]
    if case == "adversarial_cycling":
        overrides += uneven_languages(tmp_path / "data")
    if case == "sequential":  # it starts from an earlier run's selected checkpoint
        _, source_dir = run_in_process(QUICK, tmp_path, token_cache, "source")
        overrides.append(f"strategy.init_from={source_dir / 'checkpoints' / 'best.ckpt'}")
    whole, whole_dir = run_in_process(overrides, tmp_path, token_cache, f"{case}-whole")
    kill = [f"+callbacks.kill._target_={__name__}.KillOnce", f"+callbacks.kill.step={kill_step}",
            f"+callbacks.kill.marker={tmp_path / 'killed'}"]  # fmt: skip
    with pytest.raises(Killed):  # the last checkpoint (every 3 steps) is mid-epoch 2
        run_in_process([*overrides, *kill], tmp_path, token_cache, f"{case}-killed")
    resumed, out_dir = run_in_process([*overrides, *kill, "resume=auto"], tmp_path, token_cache,
                                      f"{case}-killed")  # fmt: skip
    assert resumed["test"] == whole["test"]
    logged = losses(out_dir)
    steps = [step for step, _ in logged]
    assert len(steps) == len(set(steps)) == n_steps  # every step once, none twice
    assert sorted(logged) == losses(whole_dir)  # the same losses, step by step


@pytest.mark.slow
def test_a_resume_on_another_number_of_processes_is_refused(tmp_path, token_cache):
    """A job that comes back on more devices (`trainer.devices=auto` after a requeue) would
    split the epoch differently: one line, exit 2, the checkpoint and the run kept."""
    import yaml

    from tests.test_cli_end_to_end import run_cli

    kill = [f"+callbacks.kill._target_={__name__}.KillOnce", "+callbacks.kill.step=4",
            f"+callbacks.kill.marker={tmp_path / 'killed'}"]  # fmt: skip
    with pytest.raises(Killed):
        run_in_process([*QUICK, *kill], tmp_path, token_cache, "one-process")
    out_dir = tmp_path / "runs" / "one-process"
    config = yaml.safe_load((out_dir / "config.yaml").read_text())
    del config["callbacks"]["kill"]  # the test's own callback is not importable from the CLI
    config["trainer"].update(accelerator="cpu", devices=2, strategy="ddp")  # back on 2 devices
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config))
    run_id = (out_dir / "mlflow_run_id").read_text().strip()
    proc = run_cli([f"resume={run_id}"], tmp_path, token_cache, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "xlt: error: resume: the checkpoint was written by 1 training process(es), this run has "
        "2; resume with trainer.devices=1 (and the same trainer.num_nodes)"
    )
    assert (out_dir / "checkpoints" / "last.ckpt").is_file()


class KillAfterEpoch(L.Callback):
    """Stops training right after epoch `epoch`'s validation and the checkpoints written at its
    end (at the next epoch's start: checkpoint callbacks run after every other callback), once."""

    def __init__(self, epoch: int, marker: str) -> None:
        self.epoch, self.marker = epoch, Path(marker)

    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch == self.epoch + 1 and not self.marker.exists():
            self.marker.write_text("killed")
            raise Killed(f"killed after epoch {self.epoch}'s validation")


def test_last_checkpoint_follows_a_validation_that_did_not_improve(tmp_path, token_cache):
    """lr=1e-12: the second validation cannot beat the first, yet `last.ckpt` is written; a run
    killed right after it resumes at the step it reached (no step trained twice) and ends as
    the uninterrupted run does, while `best.ckpt` stays the first epoch's."""
    import torch

    overrides = [*QUICK[:-1], "trainer.max_epochs=3", "strategy.optimizer.lr=1e-12"]
    whole, whole_dir = run_in_process(overrides, tmp_path, token_cache, "whole")
    kill = [f"+callbacks.kill._target_={__name__}.KillAfterEpoch", "+callbacks.kill.epoch=1",
            f"+callbacks.kill.marker={tmp_path / 'killed'}"]  # fmt: skip
    with pytest.raises(Killed):
        run_in_process([*overrides, *kill], tmp_path, token_cache, "killed")
    checkpoints = tmp_path / "runs" / "killed" / "checkpoints"
    last = torch.load(checkpoints / "last.ckpt", weights_only=False)
    best = torch.load(checkpoints / "best.ckpt", weights_only=False)
    assert last["global_step"] == 8 and best["global_step"] == 4  # 4 steps an epoch
    assert sorted(p.name for p in checkpoints.glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]
    resumed, out_dir = run_in_process([*overrides, *kill, "resume=auto"], tmp_path, token_cache,
                                      "killed")  # fmt: skip
    assert resumed["test"] == whole["test"]
    steps = [step for step, _ in losses(out_dir)]
    assert len(steps) == len(set(steps)) == 12  # every step once, none twice
    assert sorted(losses(out_dir)) == losses(whole_dir)
