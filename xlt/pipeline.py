"""One training job: build -> fit (select on dev) -> test every language -> log to MLflow."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar
from omegaconf import DictConfig, OmegaConf

from xlt.config.schema import Selection
from xlt.config.validate import build, check_required, resolve_languages
from xlt.data.datamodule import TransferDataModule
from xlt.evaluation.results_table import language_rows, print_results
from xlt.models.fast_dropout import use_fast_dropout
from xlt.models.init_encoder import load_encoder_weights
from xlt.models.init_encoder import resolve as resolve_encoder
from xlt.tasks import CLASSIFICATION, check_strategy_task, check_task_data, get_task
from xlt.tracking.manifest import build_manifest, git_state
from xlt.tracking.run_tracker import RunTracker
from xlt.training.module import TransferModule
from xlt.training.precision import warn_if_slow_precision
from xlt.training.recovery import (
    finished_trial,
    hydra_overrides,
    job_key,
    out_of_memory,
    resume_target,
)
from xlt.training.resume import AtomicCheckpointIO

log = logging.getLogger(__name__)


def selection_metric(cfg: DictConfig, source: str, primary: str = "acc") -> str:
    """XTREME protocol: the source language's dev score (accuracy, F1) picks the checkpoint."""
    where = source if cfg.selection == Selection.source_dev else "avg_target"
    return f"dev/{primary}/{where}"


def _quiet_libraries() -> None:
    """One log line per event: Lightning's own console handler would repeat Hydra's."""
    import datasets

    datasets.disable_progress_bars()
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    # Only frozen encoders are left in eval mode (linear probe), on purpose: no dropout on features.
    warnings.filterwarnings(
        "ignore", message=r".*module\(s\) in eval mode at the start of training.*"
    )
    # Epoch metrics come from torchmetrics, which already synchronises them across processes.
    warnings.filterwarnings("ignore", message=r".*when logging on epoch level in distributed.*")


def _choice(cfg: DictConfig, group: str) -> str:
    """The option chosen for a config group (`zero_shot`), or the class it builds."""
    if HydraConfig.initialized():
        chosen = HydraConfig.get().runtime.choices.get(group)
        if chosen:
            return str(chosen)
    return str(cfg[group]._target_).rsplit(".", 1)[-1].lower()


def run(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Train and evaluate one configuration; any failure is recorded on its MLflow run."""
    _quiet_libraries()
    done = finished_trial(cfg)
    if done is not None:
        return done
    run_id = resume_from = None
    if cfg.get("resume"):
        cfg, run_id, resume_from = resume_target(cfg)
    check_required(cfg)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    warn_if_slow_precision(cfg)
    out_dir = Path(cfg.paths.output_dir)
    git = git_state(cfg.paths.root_dir)  # two git commands: once per job, for tags and manifest
    tags = {
        "task": cfg.dataset.task,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "strategy": _choice(cfg, "strategy"),
        "augmentation": _choice(cfg, "augmentation"),
        "selection": cfg.selection.value,
        "seed": str(cfg.seed),
        "git_commit": git["commit"],
        "job_overrides": job_key(),
    }
    if cfg.model.source.get("trust_remote_code"):
        tags["model.trust_remote_code"] = "true"  # code from the hub ran in this job
    tracker = RunTracker(cfg, tags, out_dir, run_id)  # checks the store before anything else
    try:
        return _train_and_evaluate(cfg, tracker, git, resume_from)
    except BaseException as err:
        tracker.fail(err)
        raise


def _log_augmentation(tracker: RunTracker, datamodule: TransferDataModule, augmentation) -> None:
    """How many rows each augmentation produced, a sample of them, and whether it was cached."""
    counts, sample = datamodule.augmentation_summary()
    if not counts:
        return
    tracker.log_metrics({f"augment/n_{kind}": n for kind, n in counts.items()})
    tracker.set_tags({"augmentation.cache": getattr(augmentation, "cache_status", "none")})
    if sample:
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in sample)
        tracker.log_text("augmented_sample.jsonl", lines)


def _train_and_evaluate(
    cfg: DictConfig, tracker: RunTracker, git: dict, resume_from: Path | None = None
) -> dict[str, dict[str, float]]:
    strategy = build(cfg.strategy, "strategy")
    augmentation = build(cfg.augmentation, "augmentation")
    task = get_task(cfg.dataset.task, **cfg.dataset.task_options)
    L.seed_everything(cfg.seed, workers=True)
    data = build(cfg.dataset.loader, "dataset.loader")
    check_task_data(task, data, cfg.dataset.name)
    source, targets = resolve_languages(cfg, data)
    strategy.check(data, source, targets)
    check_strategy_task(strategy, task, augmentation)
    strategy.setup_run(cfg, tracker)
    monitor = selection_metric(cfg, source, task.primary_metric)
    tracker.set_tags(
        {
            **strategy.describe(),
            "source_lang": source,
            "target_langs": ",".join(targets),
            "selection_metric": monitor,
            "data_fingerprint": data.fingerprint,
            **(
                {"augmentation.translator": t.name}
                if (t := getattr(augmentation, "translator", None))
                else {}
            ),
        }
    )
    if cfg.print_config:
        print(OmegaConf.to_yaml(cfg, resolve=True))

    bundle = build(cfg.model.source, "model.source")
    if cfg.model.init_encoder:
        weights = resolve_encoder(str(cfg.model.init_encoder), tracker.client)
        n = load_encoder_weights(bundle.encoder, weights)
        tracker.set_tags({"model.init_encoder": str(weights)})
        log.info("encoder initialised from %s (%d tensors)", weights, n)
    config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    manifest = build_manifest(config, hydra_overrides(), git, cfg.seed, data.fingerprint)
    if resume_from is None and not cfg.get("resume"):
        tracker.start(cfg, manifest)
    else:
        tracker.set_tags({"resumed_from": str(resume_from or "start")})
    if data.attribution:
        tracker.log_text("DATA_ATTRIBUTION.txt", data.attribution + "\n")

    net = task.build_net(bundle.encoder, len(data.label_names), cfg.model)
    strategy.prepare(net)
    if cfg.compile:  # in place: parameter names (and so checkpoints) stay as they are
        net.encoder.compile(dynamic=True)  # inductor generates (and fuses) its own dropout
    elif cfg.model.fast_dropout:
        use_fast_dropout(net)
    trainable, total = net.count_parameters()
    tracker.log_metrics({"params/trainable": trainable, "params/total": total})
    log.info("%s: %d of %d parameters train", strategy.name, trainable, total)

    datamodule = TransferDataModule(
        data,
        bundle.tokenizer,
        strategy,
        task=task,
        source_lang=source,
        target_langs=targets,
        max_length=cfg.model.max_length,
        text_prefix=cfg.model.text_prefix,
        batch_size=cfg.dataset.batch_size,
        eval_batch_size=cfg.dataset.eval_batch_size,
        num_workers=cfg.dataset.num_workers,
        limit=cfg.dataset.limit,
        cache_dir=cfg.paths.cache_dir,
        augmentation=augmentation if task.name in CLASSIFICATION else None,  # rewrites texts
        seed=cfg.seed,
        length_grouped=cfg.dataset.length_grouped,
    )
    datamodule.setup("fit")
    _log_augmentation(tracker, datamodule, augmentation)
    tracker.log_metrics({f"data/truncated/{k}": n for k, n in datamodule.truncated.items()})
    scorers = {
        key: task.scorer(data.label_names, datamodule.eval_sets[key], datamodule.eval_examples[key])
        for key in datamodule.val_keys + datamodule.test_keys
    }
    module = TransferModule(
        net,
        task=task,
        scorers=scorers,
        strategy=strategy,
        val_keys=datamodule.val_keys,
        test_keys=datamodule.test_keys,
        source_lang=source,
        target_langs=targets,
    )
    out_dir = Path(cfg.paths.output_dir)
    checkpoint = ModelCheckpoint(  # best by the source-dev metric, and the last for resuming
        dirpath=out_dir / "checkpoints",
        filename="best",
        monitor=monitor,
        mode="max",
        save_top_k=1,
        save_last=True,
    )
    module.resume_from = str(resume_from) if resume_from else None

    def make_trainer(**overrides) -> L.Trainer:
        """A Trainer from the config; later stages (few-shot tuning) override a few arguments."""
        callbacks = [LearningRateMonitor(logging_interval="step")]
        if cfg.trainer.enable_progress_bar:
            callbacks.append(RichProgressBar())
        if overrides:
            overrides.setdefault("enable_checkpointing", False)
        else:
            callbacks.append(checkpoint)
        return build(
            cfg.trainer,
            "trainer",
            logger=tracker.logger,
            callbacks=callbacks,
            plugins=[AtomicCheckpointIO()],
            default_root_dir=str(out_dir),
            **overrides,
        )

    trainer = make_trainer()
    try:
        best = strategy.fit(trainer, module, datamodule, make_trainer)
    except (torch.OutOfMemoryError, RuntimeError) as err:
        raise out_of_memory(err, cfg) from err
    switched = getattr(datamodule.collate, "replaced", None)
    if switched is not None:  # dynamic code-switching: how much it really switched
        eligible = max(1, datamodule.collate.eligible)
        tracker.log_metrics(
            {"augment/n_switched_words": switched, "augment/switch_rate": switched / eligible}
        )
    if best:
        tracker.set_tags({"best_checkpoint": str(Path(best).resolve())})
    trainer.test(module, datamodule=datamodule, ckpt_path=best, weights_only=True, verbose=False)

    if best and checkpoint.best_model_score is not None:
        tracker.log_metrics({f"best/{monitor}": float(checkpoint.best_model_score)})
    languages = [source, *targets]
    rows = language_rows(module.results, languages, source, task.metric_names, task.primary_metric)
    tracker.log_table("metrics_per_language.csv", rows)
    if trainer.is_global_zero:
        title = f"{cfg.dataset.name} | {cfg.model.name} | {strategy.name} | seed {cfg.seed}"
        print_results(rows, module.results, title, task.primary_metric)
        print(f"MLflow run {tracker.run_id}. Open the UI with:\n  {tracker.ui_command()}")
    tracker.finish()  # sends anything queued while the store was unreachable
    return module.results
