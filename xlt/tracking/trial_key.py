"""What identifies a trial within its sweep: the overrides Hydra gave this job."""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig

from xlt.tracking.manifest import mask_secrets


def hydra_overrides() -> list[str]:
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def job_key() -> str:
    """This trial's own overrides, sorted, secrets masked (a retry or resume flag excluded)."""
    own = [
        o for o in hydra_overrides() if not o.lstrip("+~").startswith(("sweep_retry=", "resume="))
    ]
    return " ".join(sorted(mask_secrets(own)))
