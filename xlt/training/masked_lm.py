"""Masked language modelling for a language adapter: the only trainable parts are the active
adapter and a fresh head whose output layer is the encoder's input embedding table (tied).

multilingual-e5 ships without its MLM head, so the head's transform (dense, GELU, LayerNorm)
and output bias start from scratch and train with the adapter; the tied output keeps the
vocabulary space the encoder already has. Logits are computed only at masked positions, and by
default only over the pieces the language's corpus uses (`output_vocabulary=corpus`): the
encoder's table has 250k rows, a few thousand of which occur in one language's text, and the
softmax over all of them dominated a step (docs/benchmarks.md, benchmarks/masked_lm.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from xlt.config.bounds import Range
from xlt.errors import ConfigError
from xlt.training.precision import trainer_precision


@dataclass(frozen=True)
class MaskedLMSettings:
    """How one language adapter trains."""

    steps: Annotated[int, Range(ge=0)] = 300  # optimizer steps per language
    lr: Annotated[float, Range(gt=0)] = 1e-3  # AdamW, linear decay to zero
    batch_size: Annotated[int, Range(ge=1)] = 32
    mask_probability: Annotated[float, Range(gt=0, lt=1)] = 0.15  # BERT's 80/10/10 rule
    seed: Annotated[int, Range(ge=0)] = 0  # fixed, so one adapter serves every run seed
    # The softmax's candidates: the pieces the language's corpus uses (every label is one), or
    # the encoder's whole vocabulary (MAD-X's original objective; several times slower).
    output_vocabulary: Literal["corpus", "full"] = "corpus"
    # The run's trainer.precision: bf16-mixed runs the steps under bf16 autocast, as the task's
    # steps do (weights and optimizer stay fp32); 32-true in fp32; auto picks for this CPU.
    precision: str | int = "32-true"

    def describe(self) -> dict[str, Any]:
        return {"steps": self.steps, "lr": self.lr, "batch_size": self.batch_size,
                "mask_probability": self.mask_probability, "seed": self.seed,
                "output_vocabulary": self.output_vocabulary,
                "precision": self.autocast_precision()}  # fmt: skip

    def autocast_precision(self) -> str:
        """`bf16-mixed` or `32-true`: what the steps run in on this machine's CPU."""
        chosen = trainer_precision(str(self.precision), "cpu")
        if chosen.startswith("bf16"):
            return "bf16-mixed"
        if chosen in ("32", "32-true"):
            return "32-true"
        raise ConfigError(f"strategy.mlm.precision={self.precision}: the masked-LM steps run on "
                          "the CPU, in bf16-mixed or 32-true (or auto)")  # fmt: skip


class TiedMaskedLMHead(nn.Module):
    """BERT's MLM head shape with its decoder tied to (and frozen as) the input embeddings;
    `vocabulary`: the token ids it scores (None: all)."""

    def __init__(
        self, embeddings: nn.Embedding, vocabulary: torch.Tensor | None = None, eps: float = 1e-12
    ) -> None:
        super().__init__()
        hidden, size = embeddings.weight.shape[1], embeddings.weight.shape[0]
        self.transform = nn.Sequential(
            nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden, eps=eps)
        )
        self.vocabulary = vocabulary
        self.bias = nn.Parameter(torch.zeros(size if vocabulary is None else len(vocabulary)))
        self.position = None  # token id -> its row among the scored ones
        if vocabulary is not None:
            self.position = torch.full((size,), -100, dtype=torch.long)
            self.position[vocabulary] = torch.arange(len(vocabulary))
        self._table = (embeddings,)  # a reference, not a submodule: never trained or saved here

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        weight = self._table[0].weight.detach()
        if self.vocabulary is not None:
            weight = weight[self.vocabulary]
        return F.linear(self.transform(states), weight, self.bias)

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        return labels if self.position is None else self.position[labels]


def corpus_vocabulary(rows: list[list[int]]) -> torch.Tensor:
    """The distinct token ids of the corpus, sorted (every MLM label is among them)."""
    return torch.tensor(sorted({token for row in rows for token in row}), dtype=torch.long)


def masked_lm_loss(
    encoder: nn.Module, head: TiedMaskedLMHead, batch: dict, bf16: bool = False
) -> torch.Tensor:
    """Cross-entropy at the masked positions only (under bf16 autocast when asked; the loss
    itself in fp32, as Lightning's bf16-mixed computes it)."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        states = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        masked = batch["labels"] != -100
        logits = head(states.last_hidden_state[masked])
    return F.cross_entropy(logits.float(), head.targets(batch["labels"][masked]))


def check_tokenizer(tokenizer) -> None:
    if tokenizer.mask_token_id is None:
        raise ConfigError(
            "masked language modelling needs a mask token, and this model's tokenizer has "
            "none: use an encoder with one (me5_small, xlmr_base)"
        )


def batches(rows: list[list[int]], settings: MaskedLMSettings, tokenizer):
    """Endless shuffled batches with BERT-style masking (transformers' collator)."""
    from transformers import DataCollatorForLanguageModeling

    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=settings.mask_probability,
                                              return_tensors="pt")  # fmt: skip
    # Our own seeded generator, not the collator's `seed=`: with that, transformers refuses to
    # run outside the main process unless inside a DataLoader worker, which fails every trial
    # of a joblib sweep. Same masks as `seed=` gives in the main process.
    collate.generator = torch.Generator().manual_seed(settings.seed)
    order, shuffle = list(range(len(rows))), random.Random(settings.seed)
    while True:
        shuffle.shuffle(order)
        for start in range(0, len(order) - settings.batch_size + 1, settings.batch_size):
            chosen = order[start : start + settings.batch_size]
            yield collate([{"input_ids": rows[i]} for i in chosen])


def train_masked_lm(
    encoder: nn.Module, tokenizer, rows: list[list[int]], settings: MaskedLMSettings
) -> dict[str, float]:
    """Train the encoder's trainable parameters (the active adapter) with MLM on `rows` (token
    ids); the run's random streams are left as they were. Returns the loss at start and end."""
    check_tokenizer(tokenizer)
    settings = settings if len(rows) >= settings.batch_size else \
        MaskedLMSettings(**{**settings.describe(), "batch_size": len(rows)})  # fmt: skip
    was_training = encoder.training
    encoder.train()
    losses: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        vocabulary = corpus_vocabulary(rows) if settings.output_vocabulary == "corpus" else None
        head = TiedMaskedLMHead(encoder.get_input_embeddings(), vocabulary)
        params = [p for p in encoder.parameters() if p.requires_grad] + list(head.parameters())
        optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)
        decay = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: max(0.0, 1 - step / max(1, settings.steps))
        )
        stream, bf16 = (
            batches(rows, settings, tokenizer),
            settings.autocast_precision() != "32-true",
        )
        for _ in range(settings.steps):
            loss = masked_lm_loss(encoder, head, next(stream), bf16)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step(), decay.step(), optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
    encoder.train(was_training)
    tenth = max(1, len(losses) // 10)
    return {"loss_first": _mean(losses[:tenth]), "loss_last": _mean(losses[-tenth:]),
            "steps": float(len(losses)), "rows": float(len(rows))}  # fmt: skip


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
