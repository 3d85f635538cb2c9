"""`build(cfg)`: every part of a run constructed from its config, in one place, and
`prepare(parts)`: what training needs before it starts (tokenised data, a strategy's label-free
parts, the LightningModule). `xlt-train`, the benchmarks and the tests use them; nothing else
wires components by hand."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar
from omegaconf import DictConfig, OmegaConf

from xlt.augment.base import Augmentation
from xlt.config.instantiate import instantiate_spec
from xlt.config.schema import Selection, TrainConfig
from xlt.config.validate import check_max_length, check_strategy_task, resolve_languages
from xlt.data.access import provenance_flags
from xlt.data.datamodule import TransferDataModule
from xlt.data.dataset_splits import DatasetSplits
from xlt.errors import ConfigError, DataError
from xlt.models.cpu_attention import use_cpu_attention
from xlt.models.fast_dropout import use_fast_dropout
from xlt.models.init_encoder import load_encoder_weights, model_source
from xlt.models.init_encoder import resolve as resolve_encoder
from xlt.models.network import TransferNetwork, encoder_architecture
from xlt.strategies.base import Pretrained, RunContext, Stage, TransferStrategy
from xlt.tasks import CLASSIFICATION, check_task_data, get_task
from xlt.tasks.base import TaskFamily
from xlt.tracking.trial_key import hydra_overrides
from xlt.training.checkpoint_files import AtomicCheckpointIO, StepCheckpoint
from xlt.training.last_checkpoint import CheckpointEveryValidation
from xlt.training.module import TransferModule
from xlt.training.precision import check_accelerator, trainer_precision
from xlt.training.preemption import RequeueOnSignal, in_slurm_job, slurm_environment
from xlt.training.step_budget import NO_BUDGET, StepBudget

log = logging.getLogger(__name__)


TrainerFactory = Callable[[Any, Stage | None, bool], L.Trainer]  # (logger, stage, has_dev)


@dataclass
class Components:
    # The resolved config as its schema's dataclasses: what the phases after `build` read of it
    # (none of them sees the DictConfig).
    config: TrainConfig
    data: DatasetSplits
    task: TaskFamily
    strategy: TransferStrategy
    augmentation: Augmentation
    tokenizer: Any
    net: TransferNetwork
    datamodule: TransferDataModule  # constructed by build, set up (tokenised) by prepare
    source_lang: str
    targets: list[str]
    selection_metric: str  # the dev score that picks the checkpoint, e.g. dev/acc/en
    step_budget: StepBudget = field(default_factory=StepBudget)  # small data's longer stages
    # What building resolved against the store (the run a strategy starts from, the encoder's
    # initial weights), as tags for the Recorder.
    resolved: dict[str, str] = field(default_factory=dict)
    module: TransferModule | None = None  # made by prepare, over the evaluation sets
    pretrained: Pretrained | None = None  # what the strategy built without labels (MAD-X)
    # A Trainer for a stage, from the trainer and callbacks configs (None: evaluation only).
    make_trainer: TrainerFactory | None = None

    @property
    def languages(self) -> list[str]:
        return [self.source_lang, *self.targets]


def selection_metric(cfg: DictConfig, source: str, primary: str = "acc") -> str:
    """XTREME protocol: the source language's dev score (accuracy, F1) picks the checkpoint."""
    where = "avg_target" if cfg.selection == Selection.target_dev else source
    return f"dev/{primary}/{where}"


def selection_languages(cfg: DictConfig, source: str, targets: list[str]) -> list[str]:
    """Whose dev set picks the checkpoint (none with `selection=final`)."""
    if cfg.selection == Selection.final:
        return []
    return [source] if cfg.selection == Selection.source_dev else list(targets)


# not Lightning's
XLT_TRAINER_KEYS = ("val_every_n_steps", "checkpoint_every_n_steps", "min_train_steps")


def validation_schedule(trainer_cfg: DictConfig) -> dict[str, Any]:
    """`trainer.val_every_n_steps` (optimizer steps) as Lightning's batch-counted interval."""
    steps = trainer_cfg.get("val_every_n_steps")
    if steps is None:
        return {}
    batches = steps * trainer_cfg.get("accumulate_grad_batches", 1)
    return {"val_check_interval": batches, "check_val_every_n_epoch": None}


def loaded_languages(cfg: DictConfig) -> dict[str, list[str]]:
    """A loader that takes `languages` loads only the run's: the source and, when
    `dataset.target_langs` names them, those targets (XNLI's 15 configs for an en->de run: 2)."""
    configured = cfg.dataset.loader.get("languages")
    if configured is None or not cfg.dataset.target_langs:
        return {}
    wanted = [cfg.dataset.source_lang, *cfg.dataset.target_langs]
    unknown = [lang for lang in wanted if lang not in configured]
    if unknown:
        raise DataError(f"dataset.target_langs/source_lang: {unknown} not in the dataset "
                        f"{cfg.dataset.name!r}, which has {list(configured)}.")  # fmt: skip
    return {"languages": [lang for lang in configured if lang in wanted]}


def check_callback_monitors(cfg: DictConfig, source: str, targets: list[str]) -> None:
    """A user callback that watches a target language's dev score (an EarlyStopping, a second
    ModelCheckpoint) chooses on target labels: allowed only where the run says so
    (`selection=target_dev`, whose label records it)."""
    if cfg.selection == Selection.target_dev:
        return
    watched = {f"/{lang}" for lang in [*targets, "avg_target"]} - {f"/{source}"}
    for name, spec in (cfg.get("callbacks") or {}).items():
        monitor = str((spec or {}).get("monitor") or "")
        if monitor.startswith("dev/") and any(monitor.endswith(w) for w in watched):
            raise ConfigError(
                f"callbacks.{name}.monitor={monitor} watches a target language's dev score, "
                f"which selection={cfg.selection.value} keeps out of every choice; monitor "
                f"dev/.../{source}, or set selection=target_dev (the run is then labelled so)"
            )


def build_data(cfg: DictConfig) -> tuple[DatasetSplits, TaskFamily, str, list[str]]:
    """The dataset and its task family, with the run's languages checked against it."""
    task = get_task(cfg.dataset.task, **cfg.dataset.task_options)
    data = instantiate_spec(cfg.dataset.loader, "dataset.loader", **loaded_languages(cfg))
    check_task_data(task, data, cfg.dataset.name)
    source, targets = resolve_languages(cfg.dataset, data)
    check_callback_monitors(cfg, source, targets)
    return data, task, source, targets


def build_net(cfg: DictConfig, task: TaskFamily, bundle, strategy, num_labels: int):
    """The network on the encoder, prepared by the strategy (frozen parts, adapters, heads)."""
    net = task.build_net(bundle.encoder, num_labels, cfg.model)
    net.source = model_source(cfg.model)
    strategy.prepare(net)
    if cfg.model.fused_qkv:  # a LoRA-wrapped projection falls back to the stock forward
        from xlt_serving.fused_qkv import use_fused_qkv  # transformers' BERT and XLM-R code

        use_fused_qkv(net.encoder)
    if cfg.compile:  # in place: parameter names (and so checkpoints) stay as they are
        net.encoder.compile(dynamic=True)  # inductor generates (and fuses) dropout, attention
        return net
    if cfg.model.fast_dropout:
        use_fast_dropout(net)
    if cfg.model.cpu_attention:  # training steps only: evaluation keeps SDPA
        use_cpu_attention(net.encoder)
    return net


def build_datamodule(cfg, data, tokenizer, task, strategy, augmentation, source, targets):
    """conf/datamodule's spec, given what only the run knows: the data, the task, training
    sets for the strategy's declared languages, evaluation sets for every language."""
    datamodule = instantiate_spec(cfg.datamodule, "datamodule")(
        data,
        tokenizer,
        task=task,
        source_lang=source,
        target_langs=targets,
        train_langs=strategy.train_languages(source, targets),
        unlabelled_langs=strategy.unlabelled_languages(source, targets),
        selection_langs=selection_languages(cfg, source, targets),
        augmentation=None if augmentation.passes_rows_through else augmentation,
        test_translator=test_translator(cfg, task, data, source, targets),
    )
    return datamodule  # constructed; prepare() sets it up (tokenises, augments)


def test_translator(cfg, task, data: DatasetSplits, source: str, targets: list[str]):
    """evaluation.translate_test: the evaluation-side translator (classification tasks), checked
    to translate every target's dev/test text into the source language."""
    evaluation = cfg.get("evaluation")
    if evaluation is None or not evaluation.translate_test:
        return None
    if task.name not in CLASSIFICATION:
        raise ConfigError(f"evaluation.translate_test translates sentences: it fits "
                          f"{list(CLASSIFICATION)} tasks, not {task.name}")  # fmt: skip
    translator = instantiate_spec(evaluation.translator, "evaluation.translator")
    for lang in targets:
        for split in ("dev", "test"):
            if lang not in data.languages_of(split):
                continue
            if reason := translator.cannot_translate(lang, source, data, split):
                raise ConfigError(f"evaluation.translate_test: translator {translator.name} "
                                  f"cannot translate {lang}->{source} ({reason}); choose "
                                  "another with augmentation/translator@evaluation.translator="
                                  "...")  # fmt: skip
    return translator


def build_module(
    net, task, strategy, datamodule, data, source, targets, budget: StepBudget = NO_BUDGET
) -> TransferModule:
    scorers = {
        key: task.scorer(data.label_names, datamodule.eval_sets[key], datamodule.eval_examples[key])
        for key in datamodule.val_keys + datamodule.test_keys
    }
    return TransferModule(net, task=task, scorers=scorers, strategy=strategy,
                          val_keys=datamodule.val_keys, test_keys=datamodule.test_keys,
                          source_lang=source, target_langs=targets,
                          step_budget=budget)  # fmt: skip


@dataclass(frozen=True)
class StoreAccess:
    """The tracking store a run may look up earlier runs in, and this run's id: all `build`
    needs of the tracking side (it records nothing)."""

    uri: str
    run_id: str | None
    open_client: Callable[[], Any]  # an MlflowClient, opened only when a run id is resolved

    @property
    def client(self) -> Any:
        return self.open_client()


def init_encoder(cfg: DictConfig, encoder, data: DatasetSplits, store: StoreAccess | None) -> str:
    """`model.init_encoder`: other starting weights, with their provenance in the data record;
    returns where they came from."""
    weights = resolve_encoder(str(cfg.model.init_encoder), store.client if store else None)
    n = load_encoder_weights(
        encoder, weights, encoder_architecture(encoder, model_source(cfg.model))
    )
    data.access.inherit(str(weights), provenance_flags(weights))
    log.info("encoder initialised from %s (%d tensors)", weights, n)
    return str(weights)


def run_context(cfg: DictConfig, store: StoreAccess, fingerprint: str) -> RunContext:
    """What a strategy may know of this run (it gets neither the config nor the tracker)."""
    return RunContext(open_client=store.open_client, store=store.uri, run_id=store.run_id,
                      resumed=bool(cfg.get("resume")), dataset=cfg.dataset.name,
                      model=cfg.model.name, seed=int(cfg.seed), selection=cfg.selection.value,
                      fingerprint=fingerprint)  # fmt: skip


def build(cfg: DictConfig, store: StoreAccess | None = None, bundle=None) -> Components:
    """Every component of a run, constructed from its config: nothing is tokenised, trained or
    recorded here (`prepare` does the first two, the Recorder the last). `store` resolves run
    ids of earlier runs (only read: what it resolved comes back in `Components.resolved`);
    `bundle`: an already loaded encoder (benchmarks reuse one)."""
    check_accelerator(str(cfg.trainer.accelerator))  # sweep trials skip xlt-train's preflight
    strategy = instantiate_spec(cfg.strategy, "strategy")
    augmentation = instantiate_spec(cfg.augmentation, "augmentation")
    L.seed_everything(cfg.seed, workers=True)
    data, task, source, targets = build_data(cfg)
    strategy.check(data, source, targets)
    check_strategy_task(strategy, task, augmentation)
    resolved = {}
    if store is not None:
        resolved |= strategy.setup_run(run_context(cfg, store, data.fingerprint))
    if (weights := strategy.initial_weights()) is not None:
        data.access.inherit(str(weights), provenance_flags(weights))
    bundle = bundle or instantiate_spec(cfg.model.source, "model.source")
    check_max_length(cfg.model.max_length, bundle.encoder.config)
    if cfg.model.init_encoder:
        resolved["model.init_encoder"] = init_encoder(cfg, bundle.encoder, data, store)
    net = build_net(cfg, task, bundle, strategy, len(data.label_names))
    datamodule = build_datamodule(cfg, data, bundle.tokenizer, task, strategy, augmentation,
                                  source, targets)  # fmt: skip
    monitor = selection_metric(cfg, source, task.primary_metric)
    return Components(OmegaConf.to_object(cfg), data, task, strategy, augmentation,
                      bundle.tokenizer, net, datamodule, source, targets, monitor,
                      step_budget(cfg), resolved,
                      make_trainer=partial(make_trainer, cfg, monitor=monitor))  # fmt: skip


def prepare(parts: Components) -> Components:
    """What training needs before it starts, in this order: the data tokenised and augmented
    (cached), the strategy's label-free parts (MAD-X's language adapters, trained with masked
    LM or loaded), and the LightningModule with a scorer per evaluation set."""
    datamodule, strategy = parts.datamodule, parts.strategy
    datamodule.setup("fit")
    parts.pretrained = strategy.pretrain(parts.net, datamodule.training_data(), parts.tokenizer)
    module = build_module(parts.net, parts.task, strategy, datamodule, parts.data,
                          parts.source_lang, parts.targets, parts.step_budget)  # fmt: skip
    datamodule.strategy_loader = lambda view: strategy.train_dataloader(view, module.stage)
    parts.module = module
    return parts


def step_budget(cfg: DictConfig) -> StepBudget:
    """`trainer.min_train_steps`, unless the command line set `trainer.max_epochs` and not the
    budget: an explicit epoch count is never stretched behind the user's back. A stretched
    stage validates as often as its epochs asked for, unless the user set a cadence."""

    budget = cfg.trainer.get("min_train_steps") or 0
    given = {o.lstrip("+~").partition("=")[0] for o in hydra_overrides()}
    if budget and "trainer.max_epochs" in given and "trainer.min_train_steps" not in given:
        log.info("trainer.max_epochs=%s given: trainer.min_train_steps=%d does not stretch it",
                 cfg.trainer.max_epochs, budget)  # fmt: skip
        return StepBudget(0)
    cadence_set = ("trainer.check_val_every_n_epoch" in given
                   or cfg.trainer.get("check_val_every_n_epoch", 1) != 1
                   or cfg.trainer.get("val_every_n_steps") is not None)  # fmt: skip
    return StepBudget(budget, keep_validations=not cadence_set)


def make_trainer(
    cfg: DictConfig, logger, stage: Stage | None, has_dev: bool = True, *, monitor: str
) -> L.Trainer:
    """A Trainer from the config for one stage: checkpoints by `monitor` in stages that
    select; `last.ckpt` (for resuming) in every training stage; no validation in stages that do
    not select; `stage=None`: an evaluation-only Trainer."""
    out_dir = Path(cfg.paths.output_dir)
    callbacks: list = [instantiate_spec(spec, f"callbacks.{name}")
                       for name, spec in (cfg.get("callbacks") or {}).items()]  # fmt: skip
    if cfg.trainer.enable_progress_bar:
        callbacks.append(RichProgressBar())
    overrides: dict[str, Any] = {}
    checkpoints = out_dir / "checkpoints"
    if stage is not None and stage.select_on_dev:
        overrides.update(validation_schedule(cfg.trainer))
        selecting = has_dev and cfg.selection != Selection.final
        selects = {"monitor": monitor, "mode": "max", "save_top_k": 1} if selecting else {}
        callbacks.append(CheckpointEveryValidation(dirpath=checkpoints, filename="best",
                                                   **selects))  # fmt: skip
    elif stage is not None:  # no selection: `last.ckpt` alone, for resuming
        overrides["limit_val_batches"] = 0
        callbacks.append(CheckpointEveryValidation(dirpath=checkpoints, save_top_k=0))
    else:
        overrides["enable_checkpointing"] = False
    if stage is not None:
        if every := cfg.trainer.get("checkpoint_every_n_steps"):
            callbacks.append(StepCheckpoint(checkpoints, every))
        if in_slurm_job():  # the scheduler's warning: checkpoint at this step, then requeue
            callbacks.append(RequeueOnSignal(checkpoints))
    if stage is not None and stage.max_epochs is not None:
        overrides["max_epochs"] = stage.max_epochs
    spec = {k: v for k, v in cfg.trainer.items() if k not in XLT_TRAINER_KEYS}
    # `auto` outside xlt.pipeline.run (benchmarks)
    spec["precision"] = trainer_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    return instantiate_spec(spec, "trainer", logger=logger, callbacks=callbacks,
                            plugins=[AtomicCheckpointIO(), *slurm_environment()],
                            use_distributed_sampler=False,  # the datamodule shards its loaders
                            default_root_dir=str(out_dir),
                            **overrides)  # fmt: skip
