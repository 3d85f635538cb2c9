"""`xlt-align`: the Hydra entry point of the alignment toolkit (configs in conf/align/)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

import xlt.config  # noqa: F401  (resolvers)
from xlt.align.job import AlignJob
from xlt.config.schema import DatasetConfig, LoggerConfig, ModelConfig
from xlt.config.settings import typed
from xlt.errors import ConfigError, XltError
from xlt.tracking.job import quiet_libraries, record_job
from xlt.tracking.manifest import git_state

ALIGN_CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf" / "align")


def run(cfg: DictConfig) -> dict[str, float]:
    import lightning as L
    import torch

    from xlt.tracking.run_tracker import RunTracker

    for key in ("encoder", "source_encoder"):
        if not isinstance(cfg.get(key), DictConfig):
            raise ConfigError(
                f"{key}={cfg.get(key)!r} is not a model config: choose one with "
                f"model@{key}=NAME (the names of conf/model/, e.g. model@{key}=me5_small)"
            )
    quiet_libraries()
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    L.seed_everything(cfg.seed, workers=True)
    git = git_state(cfg.paths.root_dir)
    tags = {
        "task": f"align/{cfg.task.name}",
        "model": cfg.encoder.name,
        "dataset": cfg.dataset.name,
        "seed": str(cfg.seed),
        "git_commit": git["commit"],
    }
    if cfg.task.name == "bli":
        tags["source_model"] = cfg.source_encoder.name
    job = align_job(cfg)
    tracker = RunTracker(typed(cfg.logger, LoggerConfig), tags, job.output_dir, cfg.task.name)
    try:
        tracker.open()
        config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        record_job(tracker, config, job.output_dir, git, "")
        # Not recursive: a task's model configs (task.teacher) are built by the task itself.
        task = hydra.utils.instantiate(cfg.task, _partial_=True, _recursive_=False)
        metrics = task(job=job, tracker=tracker)
        tracker.finish()
        print(f"MLflow run {tracker.run_id}; see it with:\n  {tracker.ui_command()}")
        return metrics
    except BaseException as err:
        tracker.fail(err)
        raise


def align_job(cfg: DictConfig) -> AlignJob:
    """What the task reads of the composed config (conf/align/align.yaml), typed."""
    return AlignJob(encoder=typed(cfg.encoder, ModelConfig),
                    source_encoder=typed(cfg.source_encoder, ModelConfig),
                    dataset=typed(cfg.dataset, DatasetConfig),
                    output_dir=Path(cfg.paths.output_dir), cache_dir=str(cfg.paths.cache_dir),
                    seed=int(cfg.seed))  # fmt: skip


@hydra.main(version_base="1.3", config_path=ALIGN_CONFIG_DIR, config_name="align")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except XltError as err:
        print(f"xlt-align: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
