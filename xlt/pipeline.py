"""One training job: build -> fit -> evaluate -> record, every phase a named function.
`run` is the whole flow; any failure is recorded on the job's MLflow run."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from xlt.components import Components, build, make_trainer
from xlt.config.schema import Selection
from xlt.config.validate import check_required
from xlt.data.access import RECORD_FILE
from xlt.errors import Requeued, TrackingError
from xlt.evaluation.protocol import protocol_flags, protocol_label, protocol_tags
from xlt.evaluation.recipes import recipe_tags
from xlt.evaluation.results_table import language_rows, print_results
from xlt.evaluation.translated_inputs import is_translated, original_language
from xlt.strategies.base import Pretrained
from xlt.tracking.inputs import dataset_inputs
from xlt.tracking.job import quiet_libraries, record_job
from xlt.tracking.manifest import CODE_ROOT, git_state
from xlt.tracking.run_tracker import RunTracker
from xlt.tracking.sweep_retry import finished_trial
from xlt.tracking.trial_key import job_key
from xlt.training.checkpoint_files import resume_point
from xlt.training.memory_advice import out_of_memory
from xlt.training.precision import resolve_precision, warn_if_slow_precision
from xlt.training.preemption import requeue_this_job
from xlt.training.resume import requeued_by_slurm, resume_target
from xlt.training.stages import Selected, run_stages, select

log = logging.getLogger(__name__)
PREDICTIONS_FILE = "test_predictions.csv"  # per test row: lang, id, its score and prediction
MODEL_DIR = "model"  # the exported model folder in the run folder (logger.log_model)
DEFAULTS_ENV = ("XLT_PRECISION", "XLT_MIN_TRAIN_STEPS")  # conf/trainer/default.yaml reads them


def _choice(cfg: DictConfig, group: str) -> str:
    """The option chosen for a config group (`zero_shot`), or the class it builds."""
    if HydraConfig.initialized():
        chosen = HydraConfig.get().runtime.choices.get(group)
        if chosen:
            return str(chosen)
    return str(cfg[group]._target_).rsplit(".", 1)[-1].lower()


def run(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Train and evaluate one configuration: build -> fit -> evaluate -> record."""
    quiet_libraries()
    done = finished_trial(cfg)
    if done is not None:
        return done
    if not cfg.get("resume") and requeued_by_slurm():
        cfg.resume = "auto"  # the same job again: continue the run its folder recorded
    cfg, run_id, resume_from = resume_target(cfg) if cfg.get("resume") else (cfg, None, None)
    check_required(cfg)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    chosen = resolve_precision(cfg)
    warn_if_slow_precision(cfg)
    git = git_state()  # xlt's own checkout; two git commands: once per job, tags and manifest
    tags = run_tags(cfg, git) | {"precision.chosen": "auto" if chosen else "config"}
    tracker = RunTracker(cfg, tags, Path(cfg.paths.output_dir), run_id)
    try:
        parts = build(cfg, tracker)
        record_start(parts, tracker, git, resume_from)
        trainer, selected = fit(parts, tracker, resume_from)
        results = evaluate(parts, tracker, trainer, selected)
        record(parts, tracker, trainer, selected, results)
        return results
    except Requeued as requeued:  # SLURM's warning: the next attempt continues this run
        tracker.requeued(requeued.step, requeued.signal_name)
        if rank_zero_only.rank == 0:
            requeue_this_job()
        raise
    except BaseException as err:
        tracker.fail(err)
        raise


def run_tags(cfg: DictConfig, git: dict) -> dict[str, str]:
    """What the run is, as MLflow tags, before anything loads."""
    tags = {
        "task": cfg.dataset.task,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "strategy": _choice(cfg, "strategy"),
        "augmentation": _choice(cfg, "augmentation"),
        "selection": cfg.selection.value,
        "seed": str(cfg.seed),
        "precision": str(cfg.trainer.precision),
        "git_commit": git["commit"],
        "job_overrides": job_key(),
        **numerics_tags(cfg),
    }
    if golden := golden_digest(CODE_ROOT):
        tags["golden_digest"] = golden
    tags.update(recipe_tags(cfg))  # a paper recipe claimed by the config, and what differs
    if cfg.model.source.get("trust_remote_code"):
        tags["model.trust_remote_code"] = "true"  # code from the hub ran in this job
    return tags


def numerics_tags(cfg: DictConfig) -> dict[str, str]:
    """What changes a run's numbers without being an override: the attention and projection
    implementations, and environment variables that set defaults (reports pool only alike)."""
    attention = "sdpa"
    if cfg.model.get("cpu_attention") and not cfg.get("compile"):
        attention = "xlt_cpu (training)"
    env = " ".join(f"{k}={os.environ[k]}" for k in DEFAULTS_ENV if k in os.environ)
    return {"attention": attention, "fused_qkv": str(bool(cfg.model.get("fused_qkv"))).lower(),
            "defaults_env": env or "none"}  # fmt: skip


def golden_digest(root: Path) -> str | None:
    """Digest of the checkout's golden numbers: runs of commits whose digests differ computed
    differently, and a report flags a cell that pools them."""
    path = Path(root) / "tests" / "golden_metrics.json"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else None


def record_start(
    parts: Components, tracker: RunTracker, git: dict, resume_from: Path | None
) -> None:
    """Tags, params, manifest and data notes that exist before training starts."""
    cfg, translator = parts.cfg, parts.augmentation.translator
    tags = {**parts.strategy.describe(), "source_lang": parts.source_lang,
            "target_langs": ",".join(parts.targets), "selection_metric": parts.selection_metric,
            "data_fingerprint": parts.data.fingerprint}  # fmt: skip
    if translator is not None:
        tags["augmentation.translator"] = translator.name
    tracker.set_tags(tags)
    if cfg.print_config:
        print(OmegaConf.to_yaml(cfg, resolve=True))
    if resume_from is None and not cfg.get("resume"):
        record_job(tracker, cfg, git, parts.data.fingerprint)
    else:
        tracker.set_tags({"resumed_from": str(resume_from or "start"),
                          **resume_point(resume_from)})  # fmt: skip
    if parts.data.attribution:
        tracker.log_text("DATA_ATTRIBUTION.txt", parts.data.attribution + "\n")
    if parts.pretrained is not None:
        record_pretrained(parts.pretrained, tracker)
    trainable, total = parts.net.count_parameters()
    tracker.log_metrics({"params/trainable": trainable, "params/total": total})
    log.info("%s: %d of %d parameters train", parts.strategy.name, trainable, total)
    log_augmentation(parts, tracker)
    truncated = parts.datamodule.truncated.items()
    tracker.log_metrics({f"data/truncated/{k}": n for k, n in truncated})
    tracker.log_metrics(translate_test_metrics(parts.datamodule.translate_test_stats))
    record_protocol(parts, tracker)


def record_pretrained(pretrained: Pretrained, tracker: RunTracker) -> None:
    """The strategy's label-free parts (MAD-X's language adapters) as artifacts a later run
    can load by this run's id, with how each was obtained."""
    tracker.set_tags(pretrained.tags)
    tracker.log_metrics(pretrained.metrics)
    for artifact_path, folder in pretrained.artifacts.items():
        tracker.log_folder(folder, artifact_path)


def translate_test_metrics(stats: dict) -> dict[str, float]:
    """translate_test/untranslated/<split>/<lang> (rows scored untranslated) and .../chrf."""
    return {f"translate_test/{name}/{split}/{original_language(lang)}": value
            for (split, lang), values in stats.items()
            for name, value in values.items()}  # fmt: skip


def log_augmentation(parts: Components, tracker: RunTracker) -> None:
    """How many rows each augmentation produced, a sample of them, and whether it was cached."""
    counts, sample = parts.datamodule.augmentation_summary()
    if not counts:
        return
    tracker.log_metrics({f"augment/n_{kind}": n for kind, n in counts.items()})
    aug = parts.augmentation
    tracker.log_metrics({f"augment/coverage/{lang}": v for lang, v in aug.coverage.items()})
    langs = aug.languages or parts.targets
    if aug.reports_untranslated and "original" in counts:  # rows no translation reached
        tracker.log_metrics({"augment/untranslated": counts["original"] * len(langs)
                             - counts.get(aug.name, 0)})  # fmt: skip
    for lang in langs if aug.translator is not None else []:
        tracker.log_metrics({f"augment/{k}": v for k, v in aug.translator.metrics(lang).items()})
    tracker.set_tags({"augmentation.cache": aug.cache_status})
    if sample:
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in sample)
        tracker.log_text("augmented_sample.jsonl", lines)


def record_protocol(parts: Components, tracker: RunTracker) -> dict[str, bool]:
    """data_access.json and the protocol tags, from what the run has read so far."""
    access = parts.data.access
    flags = protocol_flags(access.entries(), parts.source_lang, access.inherited)
    text = access.to_json(source=parts.source_lang, flags=flags, protocol=protocol_label(flags))
    tracker.log_text(RECORD_FILE, text + "\n")
    tracker.set_tags(protocol_tags(flags))
    return flags


def fit(parts: Components, tracker: RunTracker, resume_from: Path | None):
    """Every stage of the strategy; then the weights to test and their dev scores."""
    cfg, module = parts.cfg, parts.module

    has_dev = bool(parts.datamodule.val_keys)
    if not has_dev:
        log.warning("the data has no %s dev set: nothing selects the checkpoint, the final "
                    "weights are tested (protocol flag no_selection)",
                    parts.source_lang)  # fmt: skip
    elif cfg.selection == Selection.final:
        log.info("selection=final: the final weights are tested (protocol flag no_selection)")

    def trainer_for(stage):
        return make_trainer(cfg, tracker.logger, parts.selection_metric, stage, has_dev)

    try:
        trainer, best = run_stages(module, parts.datamodule, parts.strategy.stages(),
                                   trainer_for, resume_from,
                                   cfg.trainer.val_every_n_steps is not None)  # fmt: skip
    except (torch.OutOfMemoryError, RuntimeError) as err:
        raise out_of_memory(err, cfg) from err
    tracker.set_tags({f"epochs.{name}": str(n) for name, n in module.stage_epochs.items()})
    counters = parts.datamodule.batch_transform_counters()
    tracker.log_metrics({f"augment/{name}": value for name, value in counters.items()})
    validator = trainer if best is not None else trainer_for(None)
    return trainer, select(module, parts.datamodule, validator, best, parts.selection_metric)


def evaluate(parts: Components, tracker: RunTracker, trainer, selected: Selected) -> dict:
    """Test every language with the selected weights; dev scores are those same weights'."""
    record_protocol(parts, tracker)  # training may have read more (few-shot draws)
    if selected.checkpoint is not None:
        tracker.set_tags({"best_checkpoint": str(selected.checkpoint.resolve())})
    tracker.set_tags({"selected_weights": selected.how, "selected_step": str(selected.step)})
    ckpt = str(selected.checkpoint) if selected.checkpoint else None
    trainer.test(parts.module, datamodule=parts.datamodule, ckpt_path=ckpt, weights_only=True,
                verbose=False)  # fmt: skip
    return {"dev": selected.dev, "test": dict(parts.module.results.get("test", {}))}


def logs_model(cfg: DictConfig) -> bool:
    """`logger.log_model`: true, false, or auto (single runs yes, sweep trials no)."""
    choice = str(cfg.logger.get("log_model", "auto")).lower()
    if choice == "auto":
        return not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN)
    return choice == "true"


def log_trained_model(parts: Components, tracker: RunTracker) -> None:
    """The selected weights as the run's MLflow model; a store that refuses it costs the run
    nothing (the folder stays in the run folder, `xlt-predict` reads it)."""
    from xlt.models.export import cannot_export, export_model, input_example, model_meta

    cfg = parts.cfg
    if reason := cannot_export(parts.net):
        log.warning("logger.log_model: %s", reason)
        return
    info = {"run_id": tracker.run_id, "dataset": cfg.dataset.name, "source_lang": parts.source_lang}
    meta = model_meta(cfg, parts.task, parts.data.label_names, parts.net, info)
    folder = Path(cfg.paths.output_dir) / MODEL_DIR
    example = input_example(parts.data, parts.task)
    size = export_model(parts.net, parts.tokenizer, meta, cfg.model, folder, example)
    tags = {"task": parts.task.name, "dataset": cfg.dataset.name, "source_lang": parts.source_lang}
    try:
        uri = tracker.log_model(folder, tags)
    except TrackingError as err:
        log.warning("the model was not logged to MLflow (%s); it is in %s", err, folder)
        return
    tracker.set_tags({"model_uri": str(uri)})
    tracker.log_metrics({"model/size_mb": round(size / 2**20, 1)})


def record(
    parts: Components, tracker: RunTracker, trainer, selected: Selected, results: dict
) -> None:
    """The selected weights' dev scores as best/..., the per-language table, the end of the run."""
    tracker.log_metrics({f"best/{key}": value for key, value in selected.dev.items()})
    task = parts.task
    translated = [lang for _, lang in parts.datamodule.test_keys if is_translated(lang)]
    rows = language_rows(results, [*parts.languages, *translated], parts.source_lang,
                         task.metric_names, task.primary_metric)  # fmt: skip
    tracker.log_table("metrics_per_language.csv", rows)
    per_row = [{"lang": lang, **dict(zip(scores, values, strict=True))}
               for lang, scores in parts.module.test_rows.items()
               for values in zip(*scores.values(), strict=True)]  # fmt: skip
    if per_row:  # what reports bootstrap over (and pair runs by)
        tracker.log_table(PREDICTIONS_FILE, per_row)
    tracker.log_inputs(dataset_inputs(parts.data, parts.cfg))  # the UI's Dataset column
    if trainer.is_global_zero:
        tracker.log_metrics(parts.strategy.finish())  # e.g. the probe's feature cache
    if trainer.is_global_zero and logs_model(parts.cfg):
        log_trained_model(parts, tracker)
    if trainer.is_global_zero:
        cfg = parts.cfg
        title = f"{cfg.dataset.name} | {cfg.model.name} | {parts.strategy.name} | seed {cfg.seed}"
        print_results(rows, results, title, task.primary_metric)
        print(f"MLflow run {tracker.run_id}. Open the UI with:\n  {tracker.ui_command()}")
    tracker.finish()  # sends anything queued while the store was unreachable
