"""Aligning a sentence encoder on parallel pairs so that translations embed together.

- ranking: in-batch translation ranking, a symmetric InfoNCE over cosine similarities (each
  sentence's translation is its positive, the batch's other sentences are negatives);
- distill: multilingual knowledge distillation (Reimers & Gurevych 2020): the student maps both
  the source sentence and its translation onto a frozen teacher's source embedding.
"""

from __future__ import annotations

from enum import StrEnum

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from xlt.align.embed import TextEncoder
from xlt.models.pooling import pool
from xlt.training.schedules import linear_warmup


class AlignmentLoss(StrEnum):
    ranking = "ranking"
    distill = "distill"


class PairCollator:
    """Tokenises (source, target) text pairs for the student, and the source for the teacher."""

    def __init__(self, student: TextEncoder, teacher: TextEncoder | None) -> None:
        self.student, self.teacher = student, teacher

    @staticmethod
    def _tok(encoder: TextEncoder, texts: list[str]) -> dict[str, torch.Tensor]:
        batch = encoder.bundle.tokenizer(
            [encoder.prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=encoder.max_length,
            return_tensors="pt",
        )
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def __call__(self, pairs: list[tuple[str, str]]) -> dict[str, dict[str, torch.Tensor]]:
        src, tgt = [p[0] for p in pairs], [p[1] for p in pairs]
        out = {"source": self._tok(self.student, src), "target": self._tok(self.student, tgt)}
        if self.teacher is not None:
            out["teacher"] = self._tok(self.teacher, src)
        return out


class ParallelAlignment(L.LightningModule):
    def __init__(
        self,
        student: TextEncoder,
        teacher: TextEncoder | None,
        loss: AlignmentLoss | str = AlignmentLoss.ranking,
        lr: float = 2e-5,
        scale: float = 20.0,
        warmup_ratio: float = 0.1,
    ) -> None:
        super().__init__()
        self.student, self.loss_kind = student.bundle.encoder, AlignmentLoss(loss)
        self.pooling = student.pooling
        self.teacher = teacher.bundle.encoder if teacher is not None else None
        self.teacher_pooling = teacher.pooling if teacher is not None else None
        if self.loss_kind == AlignmentLoss.distill and self.teacher is None:
            raise ValueError("distill needs a teacher encoder")
        if self.teacher is not None:
            self.teacher.requires_grad_(False).eval()
        self.lr, self.scale, self.warmup_ratio = lr, scale, warmup_ratio

    def train(self, mode: bool = True) -> ParallelAlignment:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # the target never has dropout
        return self

    def _embed(self, encoder: nn.Module, batch: dict[str, torch.Tensor], pooling) -> torch.Tensor:
        hidden = encoder(**batch).last_hidden_state
        return pool(hidden, batch["attention_mask"], pooling)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        src = self._embed(self.student, batch["source"], self.pooling)
        tgt = self._embed(self.student, batch["target"], self.pooling)
        if self.loss_kind == AlignmentLoss.ranking:
            logits = self.scale * F.normalize(src, dim=-1) @ F.normalize(tgt, dim=-1).T
            labels = torch.arange(len(src), device=src.device)
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        else:
            with torch.no_grad():
                goal = self._embed(self.teacher, batch["teacher"], self.teacher_pooling)
            loss = F.mse_loss(src, goal) + F.mse_loss(tgt, goal)
        self.log("align/train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        params = [p for p in self.student.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.lr, weight_decay=0.01, fused=True)
        total = int(self.trainer.estimated_stepping_batches)
        schedule = linear_warmup(optimizer, total, self.warmup_ratio)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
