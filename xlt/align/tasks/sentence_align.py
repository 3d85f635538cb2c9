"""Align a sentence encoder on the dataset's TRAIN translation pairs (ranking or distillation),
save it where `xlt-train model.init_encoder=PATH|RUN_ID` can start from it, and measure
retrieval on held-out pairs before and after."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from xlt.align.bitext import retrieval_accuracy
from xlt.align.job import AlignJob
from xlt.align.sentence_training import AlignmentLoss, PairCollator, ParallelAlignment
from xlt.align.tasks.bitext import SCORINGS
from xlt.align.tasks.common import markdown, parallel_pairs, text_encoder
from xlt.config.instantiate import instantiate_spec
from xlt.config.schema import ModelConfig
from xlt.config.settings import typed
from xlt.config.validate import resolve_languages
from xlt.data.access import RECORD_FILE, DataAccess, Purpose
from xlt.evaluation.protocol import protocol_flags, protocol_label

log = logging.getLogger(__name__)


def retrieval_rows(encoder, pairs_by_target, label: str, scorings) -> list[dict]:
    rows = []
    for pair, (src_texts, tgt_texts) in pairs_by_target.items():
        src, tgt = encoder.sentences(src_texts), encoder.sentences(tgt_texts)
        for scoring in scorings:
            rows.append(
                {
                    "encoder": label,
                    "pair": pair,
                    "scoring": scoring,
                    **retrieval_accuracy(src, tgt, scoring),
                }
            )
    return rows


def translation_pairs(job: AlignJob, eval_split: str):
    """TRAIN translation pairs to align on, and held-out pairs per language pair to measure."""
    data = instantiate_spec(job.dataset.loader, "dataset.loader")
    source, targets = resolve_languages(job.dataset, data)
    train_pairs, held_out = [], {}
    limit = job.dataset.limit
    for target in targets:  # training pairs from TRAIN only; test sentences are never seen
        _, src, tgt = parallel_pairs(data, "train", source, target, purpose=Purpose.parallel,
                                     limit=limit)  # fmt: skip
        train_pairs += list(zip(src, tgt, strict=True))
        pairs = parallel_pairs(data, eval_split, source, target, purpose=Purpose.evaluation,
                               limit=limit)  # fmt: skip
        held_out[f"{source}-{target}"] = pairs[1:]
    return train_pairs, held_out, targets, data.access


def align(student, teacher_enc, train_pairs, tracker, settings: dict) -> None:
    """Train the student on the pairs (ranking, or distillation from the teacher)."""
    module = ParallelAlignment(student, teacher_enc, settings["loss"], settings["lr"],
                               settings["scale"], settings["warmup_ratio"])  # fmt: skip
    loader = DataLoader(train_pairs, batch_size=settings["batch_size"], shuffle=True,
                        collate_fn=PairCollator(student, teacher_enc))  # fmt: skip
    trainer = L.Trainer(max_epochs=settings["epochs"], logger=tracker.logger,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, log_every_n_steps=10,
                        gradient_clip_val=1.0, deterministic=True)  # fmt: skip
    trainer.fit(module, loader)


def save_aligned(job: AlignJob, student, tracker, loss: str, access: DataAccess) -> Path:
    """The aligned encoder, with the record of what it read: xlt-train runs that start from it
    inherit that (target TRAIN text), so they are not reported as plain zero-shot."""

    out = Path(job.output_dir) / "aligned_encoder"
    student.bundle.encoder.save_pretrained(out)
    student.bundle.tokenizer.save_pretrained(out)
    flags = protocol_flags(access.entries(), job.dataset.source_lang)
    flags["no_selection"] = False  # an encoder, not a tested model: selection is the user's run
    (out / RECORD_FILE).write_text(access.to_json(flags=flags, protocol=protocol_label(flags)))
    tracker.set_tags({"aligned_encoder": str(out), "align.loss": loss})
    return out


def run(
    job: AlignJob,
    tracker,
    loss: str = "ranking",
    teacher: Any = None,  # a conf/model config (task=sentence_align loss=distill)
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 2e-5,
    scale: float = 20.0,
    warmup_ratio: float = 0.1,
    eval_split: str = "test",
    scorings: list[str] = SCORINGS,
    name: str = "sentence_align",
) -> dict[str, float]:
    train_pairs, held_out, _, access = translation_pairs(job, eval_split)
    tracker.log_metrics({"align/train_pairs": len(train_pairs)})
    student = text_encoder(job.encoder, "encoder")
    if job.encoder.freeze_embeddings:
        student.bundle.encoder.get_input_embeddings().weight.requires_grad_(False)
    rows = retrieval_rows(student, held_out, "before", scorings)
    teacher_enc = None
    if AlignmentLoss(loss) == AlignmentLoss.distill:
        # Default teacher: a frozen copy of the student's starting point (keeps its space).
        teacher_enc = (text_encoder(typed(teacher, ModelConfig), "task.teacher") if teacher
                       else copy.deepcopy(student))  # fmt: skip
    settings = {"loss": loss, "lr": lr, "scale": scale, "warmup_ratio": warmup_ratio,
                "batch_size": batch_size, "epochs": epochs}  # fmt: skip
    align(student, teacher_enc, train_pairs, tracker, settings)
    out = save_aligned(job, student, tracker, loss, access)
    rows += retrieval_rows(student, held_out, "after", scorings)
    metrics = {f"align/{r['encoder']}/{r['pair']}/{r['scoring']}/{k}": r[k]
               for r in rows for k in ("p1_fwd", "p1_bwd", "xsim_error")}  # fmt: skip
    tracker.log_metrics(metrics)
    tracker.log_table("retrieval_before_after.csv", rows)
    print(f"\nRetrieval on {eval_split} pairs before/after {loss} alignment\n{markdown(rows)}")
    print(f"aligned encoder: {out}")
    print(f"  fine-tune from it: xlt-train model.init_encoder={tracker.run_id}")
    return metrics
