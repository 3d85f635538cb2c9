"""Typed schemas for the composed config: Hydra rejects unknown keys and bad values at compose
time, before any model loads, with a message naming the key.

Group options whose keys depend on the class they build (strategy, augmentation, a model's or a
dataset's loader) are `_target_` specs typed `Any`; they are checked by `xlt.config.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from xlt.config.bounds import R


class Pooling(StrEnum):
    mean = "mean"
    cls = "cls"


class WeightsForm(StrEnum):
    """How a logged model stores its trained weights (xlt_serving/compact_weights.py)."""

    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"


class ServingEngine(StrEnum):
    """What runs a logged model's encoder when it is served (xlt_serving/runtime.py)."""

    torch = "torch"
    onnx = "onnx"  # onnxruntime, fp32
    onnx_int8 = "onnx_int8"  # onnxruntime with dynamic int8 matrix products


class Selection(StrEnum):
    """Which dev set picks the checkpoint: the source language's (XTREME protocol), the
    targets', or none (`final`: the last weights are tested, as XTREME's QA scripts do)."""

    source_dev = "source_dev"
    target_dev = "target_dev"
    final = "final"


@dataclass
class DatasetConfig:
    # The dataset's name in tags, reports and MLflow dataset inputs.
    name: str = MISSING
    task: str = "classification"  # classification | pair_classification | tagging | qa
    task_options: dict[str, Any] = field(default_factory=dict)  # e.g. qa: {normalization: mlqa}
    loader: Any = MISSING  # _target_ spec returning xlt.data.DatasetSplits
    # The language with labelled training data (the transfer's source).
    source_lang: str = "en"
    target_langs: list[str] = field(default_factory=list)  # empty: every other language
    # First N rows per split and language, for everything the run reads (quick runs, tests).
    limit: int | None = field(default=None, metadata=R(ge=1))
    files: Any = None  # dataset=local: {train: PATH, dev: PATH, test: PATH} or per language
    # Training examples per batch.
    batch_size: int = field(default=32, metadata=R(ge=1))
    # Examples per dev/test batch (no gradients: larger is cheaper).
    eval_batch_size: int = field(default=128, metadata=R(ge=1))
    # DataLoader worker processes (0: batches are made in the training process).
    num_workers: int = field(default=0, metadata=R(ge=0))
    # Batches of similar lengths (less padding); random order when false.
    length_grouped: bool = True


@dataclass
class ModelConfig:
    # The model's name in tags and reports.
    name: str = MISSING
    source: Any = MISSING  # _target_ spec returning xlt.models.encoder.EncoderBundle
    # How token vectors become one sentence vector: mean (e5's) or cls.
    pooling: Pooling = Pooling.mean
    text_prefix: str = ""  # e5 models expect "query: "
    max_length: int = field(default=128, metadata=R(ge=8))  # tokens; <= the encoder's limit
    # Keep the token embedding table fixed (fewer trainable weights; the default run sets it).
    freeze_embeddings: bool = False
    # Dropout on the pooled vector before the task head.
    head_dropout: float = field(default=0.1, metadata=R(ge=0, lt=1))
    # The three custom CPU kernels are opt-in: together they made a default training step
    # 1.18x faster in bf16 on an AVX-512 CPU but 1.09x in fp32 with AVX2 kernels, under the 10%
    # a kernel must pay on both CPU kinds (docs/benchmarks.md, benchmarks/kernels.py).
    # Dropout masks from 16-bit random draws on CPU (xlt/models/fast_dropout.py), p rounded to
    # 1/65536; false: torch's own dropout.
    fast_dropout: bool = False
    # BERT / XLM-R self-attention's query, key and value projections as one matmul under
    # autocast, fused at run time (xlt_serving/fused_qkv.py): same parameters and checkpoints.
    # fp32 runs the stock forward either way.
    fused_qkv: bool = False
    # Training steps on CPU run attention as xlt/models/cpu_attention.py's "xlt_cpu" (SDPA's
    # math: fp32 scores, softmax, dropout; in fewer, vectorised passes; any argument it does
    # not implement goes to SDPA). Evaluation and serving keep transformers' SDPA.
    cpu_attention: bool = False
    # Start the encoder from other weights: an xlt-align aligned encoder or an xlt-train
    # checkpoint, by path or MLflow run id (null: the source's own weights).
    init_encoder: str | None = None


@dataclass
class TrainerConfig:
    _target_: str = "lightning.Trainer"
    # Lightning's accelerator: auto, cpu, gpu (refused where no GPU is visible).
    accelerator: str = "auto"
    devices: Any = field(default="auto", metadata=R(ge=1, also=(-1,)))  # "auto", N, -1: all
    strategy: Any = "auto"  # Lightning's distribution strategy ("ddp"), not xlt's transfer one
    # Machines for one trial (DDP under SLURM).
    num_nodes: int = field(default=1, metadata=R(ge=1))
    # Lightning precision; conf/trainer/default.yaml sets auto: bf16 autocast where the CPU or GPU
    # has bf16, else fp32.
    precision: Any = "32-true"
    # Epochs per stage (a small dataset may get more: min_train_steps).
    max_epochs: int = field(default=4, metadata=R(ge=1))
    max_steps: int = field(default=-1, metadata=R(ge=1, also=(-1,)))  # -1: no step limit
    # Batches per optimizer step.
    accumulate_grad_batches: int = field(default=1, metadata=R(ge=1))
    # Gradient norm clipping (null: off).
    gradient_clip_val: float | None = field(default=1.0, metadata=R(gt=0))
    # Validate every N training batches (int) or fraction of an epoch (float).
    val_check_interval: Any = field(default=1.0, metadata=R(gt=0))
    # Validate every N epochs.
    check_val_every_n_epoch: int = field(default=1, metadata=R(ge=1))
    # xlt's, not Lightning's: check dev every N optimizer steps and on the final weights
    # (XTREME's save_steps with eval_all_checkpoints); null: as val_check_interval says.
    val_every_n_steps: int | None = field(default=None, metadata=R(ge=1))
    # xlt's: also write last.ckpt every N optimizer steps (a kill mid-epoch loses at most N);
    # null: after each validation only.
    checkpoint_every_n_steps: int | None = field(default=None, metadata=R(ge=1))
    # xlt's: a stage that follows max_epochs trains at least this many optimizer steps: on a
    # small dataset it gets more epochs (dev still selects the checkpoint); 0: off.
    min_train_steps: int = field(default=300, metadata=R(ge=0))
    # Batches per epoch: a count (int) or a fraction (float in [0, 1]).
    limit_train_batches: Any = field(default=None, metadata=R(gt=0))
    # Dev batches per validation: a count or a fraction (0: no dev).
    limit_val_batches: Any = field(default=None, metadata=R(ge=0))
    # Test batches: a count or a fraction.
    limit_test_batches: Any = field(default=None, metadata=R(gt=0))
    # Lightning's dev batches before training (-1: all).
    num_sanity_val_steps: int = field(default=0, metadata=R(ge=-1))
    # Training metrics to MLflow every N optimizer steps.
    log_every_n_steps: int = field(default=10, metadata=R(ge=1))
    # torch's deterministic algorithms (slower; bit-identical reruns on one machine need it on
    # GPU).
    deterministic: Any = False
    # Rich progress bar on the console.
    enable_progress_bar: bool = True
    # Lightning's table of layers at the start.
    enable_model_summary: bool = False


@dataclass
class LoggerConfig:
    # The MLflow store: sqlite:///ABS/path.db (default under outputs/), a server URL, or
    # postgresql://.
    tracking_uri: str = MISSING
    # The MLflow experiment (default xlt-<dataset>).
    experiment_name: str = MISSING
    # Where a new experiment keeps artifacts (null: the store's default).
    artifact_location: str | None = None
    # The MLflow run name (null: made from the overrides).
    run_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # extra tags from the user
    log_user: bool = False  # MLflow's mlflow.user tag: the OS user name only when true
    # MLflow's system metrics (CPU, memory, disk, network; GPU where present) every 10 s,
    # sampled by the MLflow writer process while the run is open.
    system_metrics: bool = False
    # The selected weights as an MLflow model (`runs:/RUN_ID/model`) that loads without xlt,
    # and the test predictions per row. `auto`: single runs log it, sweep trials do not
    # (`xlt-report --register` logs the chosen trial's).
    log_model: Any = "auto"
    # How the logged model stores its trained weights: fp16 (half the size; no label of HSK
    # topic's test set moved), fp32 (exact: the run's test predictions to the row) or int8
    # (one scale per matrix row, a quarter; ~1% of labels moved). Expanded to fp32 at load.
    model_weights: WeightsForm = WeightsForm.fp16
    # What runs the logged model's encoder when served (xlt-predict --engine overrides it):
    # torch, or onnxruntime (onnx; onnx_int8: int8 matrix products, fastest on fp32-only CPUs).
    model_engine: ServingEngine = ServingEngine.torch
    # A sweep's trial that finds a tracking server or database unreachable at its start waits
    # this many seconds for it (the sweep reached it, so a restart is the likely cause); a
    # single run, or 0, fails at once in one line.
    sweep_store_wait_s: float = field(default=300.0, metadata=R(ge=0, le=86400))


@dataclass
class EvaluationConfig:
    # Also score every target language's dev and test sets translated into the source language
    # (translate-test), under their own metric names (`<lang>.translate_test`).
    translate_test: bool = False
    # The evaluation-side translator (a conf/augmentation/translator spec).
    translator: Any = None


@dataclass
class PathsConfig:
    # The repository (configs and experiments are found from it).
    root_dir: str = MISSING
    outputs_dir: str = MISSING  # local MLflow store, run folders
    output_dir: str = MISSING  # this run's folder (Hydra's)
    cache_dir: str = MISSING  # converted models, tokenised data: outside the repo


@dataclass
class TrainConfig:
    dataset: DatasetConfig = MISSING
    model: ModelConfig = MISSING
    # How the model transfers (conf/strategy/, a `_target_` spec; see the strategies page).
    strategy: Any = MISSING
    # What is done to the training data (conf/augmentation/, a `_target_` spec).
    augmentation: Any = MISSING
    trainer: TrainerConfig = MISSING
    # The LightningDataModule, a partial `_target_` spec (conf/datamodule/).
    datamodule: Any = MISSING
    # Lightning callbacks by name, each a `_target_` spec (conf/callbacks/).
    callbacks: dict[str, Any] = field(default_factory=dict)
    logger: LoggerConfig = MISSING
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    paths: PathsConfig = MISSING
    # Seeds torch, numpy and Python for the whole run (data order, initialisation, dropout).
    seed: int = field(default=0, metadata=R(ge=0))
    # CPU threads per trial; 1 for parallel local trials.
    torch_threads: int | None = field(default=None, metadata=R(ge=1))
    # torch.compile the encoder (dynamic shapes; inductor makes its own dropout). On the 2-core
    # CPU here it does not pay (steps 6% slower than the eager default, 30-130 s to compile):
    # meant for GPUs. docs/benchmarks.md has the measurement.
    compile: bool = False
    # Which dev set picks the checkpoint: source_dev (zero-shot protocol), target_dev, final.
    selection: Selection = Selection.source_dev
    # Print the resolved config before the run starts.
    print_config: bool = False
    # Continue a killed run: its MLflow run id, or "auto" (the run recorded in this output dir).
    resume: str | None = None
    # In a multirun: a previous sweep's parent run id; trials that finished there are skipped.
    sweep_retry: str | None = None


def register_configs() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
