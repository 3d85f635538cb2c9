"""`sweep_retry=PARENT`: a retried sweep skips the trials that already finished in it and
continues, in their own MLflow runs, the trials that were stopped mid-way."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from xlt.errors import TrackingError
from xlt.tracking.store import check_tracking_store, probe_remote_store
from xlt.tracking.sweep import child_runs, parent_of_current_job
from xlt.tracking.trial_key import job_key
from xlt.training.checkpoint_files import last_checkpoint

log = logging.getLogger(__name__)


def wait_for_sweep_store(tracking_uri: str, patience_s: float) -> None:
    """A sweep's trial waits out a tracking server or database that is down at its start (a
    restart, most likely: the sweep reached it), instead of failing this trial and every one
    after it within seconds. Mid-run, the writer's queue covers an outage."""
    if parent_of_current_job() is None or patience_s <= 0:
        return
    deadline, warned = time.monotonic() + patience_s, False
    while True:
        try:
            return probe_remote_store(tracking_uri)
        except TrackingError as err:
            if time.monotonic() > deadline:
                raise TrackingError(f"{err} (waited {patience_s:.0f} s: "
                                    "logger.sweep_store_wait_s)") from err  # fmt: skip
            if not warned:
                log.warning("MLflow store unreachable at this trial's start; waiting up to "
                            "%.0f s (logger.sweep_store_wait_s): %s", patience_s, err)  # fmt: skip
                warned = True
            time.sleep(1.0)


def earlier_attempts(retry: str | None, tracking_uri: str) -> list:
    """This trial's runs in the retried sweep, newest first (none without `sweep_retry`)."""
    parent = parent_of_current_job()
    if not retry or parent is None:
        return []
    client = check_tracking_store(tracking_uri)
    mine = [run for run in child_runs(client, parent)
            if run.data.tags.get("job_overrides") == job_key()]  # fmt: skip
    return sorted(mine, key=lambda run: run.info.start_time or 0, reverse=True)


def finished_trial(attempts: list) -> dict[str, dict[str, float]] | None:
    """This trial's dev and test results if it already finished in the retried sweep."""
    for run in attempts:
        if run.info.status == "FINISHED":
            log.info("trial already finished in run %s: skipped", run.info.run_id)
            metrics = run.data.metrics
            return {s: {k: v for k, v in metrics.items() if k.startswith(f"{s}/")}
                    for s in ("dev", "test")}  # fmt: skip
    return None


def stopped_trial(attempts: list, tracking_uri: str) -> str | None:
    """The run id of this trial's newest attempt to continue in place (`resume=`): one left
    RUNNING (its process was killed) or one stopped with a checkpoint (a signal, an error
    after training began). A failure before any checkpoint reruns as a new run, and an attempt
    killed before it saved its config is marked FAILED, so no run stays RUNNING."""
    for run in attempts:
        folder = Path(run.data.tags.get("output_dir") or "")
        has_config = (folder / "config.yaml").is_file()
        if run.info.status == "RUNNING" and not has_config:
            check_tracking_store(tracking_uri).set_terminated(run.info.run_id, "FAILED")
            log.info("run %s was killed before it saved its config: FAILED, rerun anew",
                     run.info.run_id)  # fmt: skip
            continue
        if has_config and (run.info.status == "RUNNING" or last_checkpoint(folder)):
            log.info("trial stopped in run %s: continued in it", run.info.run_id)
            return run.info.run_id
        return None  # the newest attempt failed before a checkpoint: rerun anew
    return None
