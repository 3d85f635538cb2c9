"""The LightningModule: cross-entropy training, per-language evaluation, slim checkpoints."""

from __future__ import annotations

import logging
import math

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.utilities import GradClipAlgorithmType
from torch import nn

from xlt.evaluation.metrics import summarize
from xlt.evaluation.translated_inputs import is_translated
from xlt.models.network import TransferNetwork
from xlt.strategies.base import Stage, StepContext, TransferStrategy
from xlt.tasks.base import EvalKey, Scorer, TaskFamily
from xlt.training.rng_state import rng_state, set_rng_state
from xlt.training.step_budget import NO_BUDGET, StepBudget

log = logging.getLogger(__name__)


class TransferModule(L.LightningModule):
    def __init__(
        self,
        net: TransferNetwork,
        task: TaskFamily,
        scorers: dict[EvalKey, Scorer],
        strategy: TransferStrategy,
        val_keys: list[EvalKey],
        test_keys: list[EvalKey],
        source_lang: str,
        target_langs: list[str],
        step_budget: StepBudget = NO_BUDGET,
    ) -> None:
        super().__init__()
        self.net, self.task = net, task
        self.strategy = strategy
        self.val_keys, self.test_keys = list(val_keys), list(test_keys)
        self.source_lang, self.target_langs = source_lang, list(target_langs)
        self.scorers = nn.ModuleDict({scorer_name(key): scorer for key, scorer in scorers.items()})
        self.results: dict[str, dict[str, float]] = {}  # split -> summary of the last evaluation
        self.stage = Stage()  # set by the stage runner
        self.step_offset = 0  # optimizer steps of the stages before this one
        self.stage_index = 0  # which of the strategy's stages is training
        self.dev_history: list[tuple[int, dict[str, float]]] = []  # (step, dev summary) in fit
        self.test_rows: dict[str, dict[str, list]] = {}  # lang -> per-row scores of the test
        self._total_steps = 1
        self.step_budget = step_budget  # trainer.min_train_steps
        self.stage_epochs: dict[str, int] = {}  # stage name -> epochs it was set to train
        # Checkpoints hold trainable weights only (frozen ones are rebuilt from the model source).
        self.strict_loading = False

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Lightning refuses to clip under mixed precision when the optimizer is fused (it unscales
        fp16 gradients itself). bf16 has no gradient scaler: the gradients are true and clipping
        them is exact, so xlt's fused AdamW and bf16-mixed (trainer=gpu, AMX CPUs) go together."""
        if not self.strategy.clips_gradients:
            return  # e.g. L-BFGS: its line search needs the true gradient
        plugin = self.trainer.precision_plugin
        if gradient_clip_val and isinstance(plugin, MixedPrecision) and plugin.scaler is None:
            algorithm = GradClipAlgorithmType(gradient_clip_algorithm or "norm")
            Precision.clip_gradients(plugin, optimizer, gradient_clip_val, algorithm)
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def on_train_start(self) -> None:
        import time

        import psutil

        # Start-up cost as users feel it (benchmarks/startup.py reads this line).
        since = time.time() - psutil.Process().create_time()
        log.info("first training step %.2f s after the process started", since)
        self._total_steps = int(self.trainer.estimated_stepping_batches)

    def step_context(self) -> StepContext:
        return StepContext(
            step=self.global_step,
            total_steps=self._total_steps,
            epoch=self.current_epoch,
            global_step=self.step_offset + self.global_step,
            stage=self.stage,
        )

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, extra = self.strategy.training_loss(self.net, self.task, batch, self.step_context())
        self.log("train/loss", loss, prog_bar=True, batch_size=self._batch_size(batch))
        for name, value in extra.items():
            self.log(f"train/{name}", value, batch_size=self._batch_size(batch))
        return loss

    @staticmethod
    def _batch_size(batch: dict) -> int:
        inner = next(iter(batch.values())) if "input_ids" not in batch else batch
        return int(inner["input_ids"].shape[0])

    def _eval_step(self, batch: dict, key: EvalKey) -> None:
        # a translated set (translate-test) is source-language text: the source's head reads it
        lang = self.source_lang if is_translated(key[1]) else key[1]
        outputs = self.net(batch["input_ids"], batch["attention_mask"], lang)
        self.scorers[scorer_name(key)].update(outputs, batch)

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(batch, self.val_keys[dataloader_idx])

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(batch, self.test_keys[dataloader_idx])

    def _finish(self, split: str, keys: list[EvalKey]) -> None:
        scores = {}
        for s, lang in keys:
            scorer = self.scorers[scorer_name((s, lang))]
            scores[lang] = scorer.compute()
            if split == "test":
                self.test_rows[lang] = scorer.row_scores()
            scorer.reset()
        summary = summarize(
            split, scores, self.source_lang, self.target_langs, self.task.primary_metric
        )
        self.results[split] = summary
        if self.trainer.state.fn in ("fit", "test"):  # a re-validation of chosen weights is
            self.log_dict(summary, add_dataloader_idx=False)  # logged by the caller as best/...

    def on_validation_epoch_end(self) -> None:
        self._finish("dev", self.val_keys)
        if self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self.dev_history.append((self.step_offset + self.global_step, self.results["dev"]))

    def on_test_epoch_end(self) -> None:
        self._finish("test", self.test_keys)

    def stretch_to_step_budget(self) -> None:
        """A stage on small data (76 steps in 4 epochs on 608 rows) leaves LoRA and the probe
        under-trained, or collapsed to one class: raise its epochs to reach `min_train_steps`
        optimizer steps, validating as often as the configured epochs would have. Dev still
        picks the checkpoint, so the longer run stops, in effect, where source dev peaked. Stages
        with their own epochs keep them."""
        loop, limit = self.trainer.fit_loop, self.trainer.limit_train_batches
        if (
            not self.step_budget.min_steps
            or self.stage.max_epochs is not None
            or not self.stage.follows_step_budget
            or loop.max_steps != -1
            or not loop.max_epochs
            or loop.max_epochs < 1
            or not (limit is None or (isinstance(limit, float) and limit == 1.0))
        ):  # fmt: skip (an int 1 is one batch, the float 1.0 every batch)
            return  # a step limit or batch limit set by the user wins
        total = int(self.trainer.estimated_stepping_batches)
        if total >= self.step_budget.min_steps or total < 1:
            return
        per_epoch = math.ceil(total / loop.max_epochs)
        epochs, every = self.step_budget.stretch(per_epoch, loop.max_epochs)
        log.info("stage %s: %d steps per epoch, %d epochs instead of %d to reach "
                 "trainer.min_train_steps=%d, validating every %s", self.stage.name, per_epoch,
                 epochs, loop.max_epochs, self.step_budget.min_steps,
                 f"{every} epochs" if every else "epoch as configured")  # fmt: skip
        loop.max_epochs = epochs
        if every:
            self.trainer.check_val_every_n_epoch = every

    def configure_optimizers(self):
        self.stretch_to_step_budget()
        self.stage_epochs[self.stage.name] = int(self.trainer.fit_loop.max_epochs or 0)
        optimizer = self.strategy.optimizer(self.strategy.optimizer_groups(self.net, self.stage))
        if self.strategy.scheduler is None:
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = self.strategy.scheduler(optimizer, total_steps=total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        frozen = {f"net.{n}" for n, p in self.net.named_parameters() if not p.requires_grad}
        checkpoint["state_dict"] = {
            k: v for k, v in checkpoint["state_dict"].items() if k not in frozen
        }
        checkpoint["xlt_architecture"] = self.net.architecture()
        checkpoint["xlt_rng"] = rng_state()  # a resumed run continues the same random streams
        checkpoint["xlt_dev_history"] = [[step, dict(s)] for step, s in self.dev_history]
        checkpoint["xlt_stage"] = [self.stage_index, self.step_offset]  # where a resume starts

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "xlt_rng" in checkpoint and self._trainer is not None and self.trainer.state.fn == "fit":
            set_rng_state(checkpoint["xlt_rng"])
            self.dev_history = [(step, s) for step, s in checkpoint.get("xlt_dev_history", [])]
        trainable = {f"net.{n}" for n, p in self.net.named_parameters() if p.requires_grad}
        missing = sorted(trainable - set(checkpoint["state_dict"]))
        if missing:
            raise RuntimeError(
                f"checkpoint lacks {len(missing)} trainable weights (e.g. {missing[:3]}): it was "
                "written by a run with a different model or strategy config."
            )


def scorer_name(key: EvalKey) -> str:
    """A module name for the (split, language) scorer (no dots: `zh.translate_test`)."""
    return f"{key[0]}_{key[1]}".replace(".", "__")
