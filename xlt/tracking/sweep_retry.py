"""`sweep_retry=PARENT`: a retried sweep skips the trials that already finished in it."""

from __future__ import annotations

import logging

from xlt.tracking.store import check_tracking_store
from xlt.tracking.sweep import child_runs, parent_of_current_job
from xlt.tracking.trial_key import job_key

log = logging.getLogger(__name__)


def finished_trial(retry: str | None, tracking_uri: str) -> dict[str, dict[str, float]] | None:
    """With `sweep_retry` set (`retry`): this trial's dev and test results if it already
    finished in that sweep, else None."""
    parent = parent_of_current_job()
    if not retry or parent is None:
        return None
    client = check_tracking_store(tracking_uri)
    for run in child_runs(client, parent):
        if run.info.status == "FINISHED" and run.data.tags.get("job_overrides") == job_key():
            log.info("trial already finished in run %s: skipped", run.info.run_id)
            metrics = run.data.metrics
            return {s: {k: v for k, v in metrics.items() if k.startswith(f"{s}/")}
                    for s in ("dev", "test")}  # fmt: skip
    return None
