"""`xlt-train`: the Hydra entry point. Composition happens here; the work is in xlt.pipeline."""

from __future__ import annotations

import logging
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import xlt.config  # noqa: F401  (registers the config schema and resolvers)
from xlt.config.cli_errors import composition_problem
from xlt.config.paths import CONFIG_DIR
from xlt.errors import Requeued, XltError
from xlt.tasks import get_task
from xlt.tracking.service_client import tracking_service
from xlt.tracking.store import check_local_store_writable
from xlt.tracking.sweep import stop_parent
from xlt.training import stop_signals
from xlt.training.stop_signals import Stopped, stop_on_signals

log = logging.getLogger(__name__)


def preflight(cfg: DictConfig) -> None:
    """Checks that need no heavy import, run first: a model or dataset source module may define
    `preflight`, called with its loader's arguments (hub sources fail within a second offline)."""
    import importlib

    from xlt.config.validate import check_required
    from xlt.training.precision import check_accelerator

    check_required(cfg)  # unknown keys, values out of range: one line, before anything loads
    check_accelerator(str(cfg.trainer.accelerator))
    check_local_store_writable(str(cfg.logger.tracking_uri))
    for spec in (cfg.model.source, cfg.dataset.loader):
        module_name = str(spec._target_).rpartition(".")[0]
        check = getattr(importlib.import_module(module_name), "preflight", None)
        if check is not None:
            check(**{str(k): v for k, v in spec.items() if not str(k).startswith("_")})


def start_tracking(cfg: DictConfig) -> None:
    """Starts the MLflow writer process now, so that MLflow's import and the store's opening
    (~2 s) run beside the heavy imports below instead of after them."""
    import os

    ranks = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")  # as Lightning reads them
    if all(os.environ.get(name, "0") == "0" for name in ranks):  # other ranks never write
        tracking_service(cfg.logger.tracking_uri)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    # In a sweep a failing trial is recorded (FAILED run, error artifact) and the others go on.
    in_sweep = HydraConfig.get().mode == RunMode.MULTIRUN

    if not os.environ.get("SLURM_JOB_ID"):  # in a SLURM job its requeue handling has them
        stop_on_signals()
    try:
        if not in_sweep:  # in a sweep, run() records every failure on the trial's MLflow run
            preflight(cfg)
        start_tracking(cfg)
        from xlt.pipeline import run  # Lightning, transformers, MLflow: seconds to import

        results = run(cfg)
    except Requeued as requeued:  # SLURM warned of the time limit: the next attempt resumes
        print(f"xlt: {requeued}; the requeued job resumes this run", file=sys.stderr)
        raise SystemExit(0) from None
    except Stopped as stopped:  # the run and a sweep's parent are FAILED, naming the signal
        print(f"xlt: {stopped}; its last checkpoint is kept (resume=auto continues)",
              file=sys.stderr)  # fmt: skip
        if in_sweep:
            stop_parent(HydraConfig.get().sweep.dir, stopped.signal.name)
        if stop_signals.in_trial_process():  # a joblib worker: end it, its launcher waits
            sys.stderr.flush()
            os._exit(stopped.exit_status)
        raise SystemExit(stopped.exit_status) from None
    except XltError as err:
        print(f"xlt: error: {err}", file=sys.stderr)
        if in_sweep:
            return None
        raise SystemExit(2) from None
    except Exception:
        if not in_sweep:
            raise
        log.exception("trial %s failed; the sweep goes on", HydraConfig.get().job.num)
        return None

    primary = get_task(cfg.dataset.task, **cfg.dataset.task_options).primary_metric
    return results.get("dev", {}).get(f"dev/{primary}/{cfg.dataset.source_lang}")  # objective


def cli() -> None:
    """`xlt-train`: a command line that cannot compose is one line (exit 2), then Hydra's main."""

    if problem := composition_problem(sys.argv[1:]):
        print(f"xlt: error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    try:
        main()
    except Stopped as stopped:  # a sweep's launching process (trials stopped themselves)
        print(f"xlt: {stopped}; the sweep's parent is FAILED (sweep_retry=PARENT_RUN_ID runs "
              "what did not finish)", file=sys.stderr)  # fmt: skip
        raise SystemExit(stopped.exit_status) from None


if __name__ == "__main__":
    cli()
