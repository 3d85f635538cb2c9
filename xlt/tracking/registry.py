"""`xlt-report --parent ID --register NAME`: the best trial of a sweep into MLflow's model
registry with the alias `champion`; `xlt-register RUN_ID NAME`: one run, which becomes the
champion only if its source dev score beats the current one's under the same protocol.

"Best" is the source-language dev score that selected each trial's checkpoint (the tag
`selection_metric`, read from the `best/` metrics), never a test score. Trials run under
different protocols (zero-shot next to translate-train) are not comparable: such a sweep is
refused unless `--protocol` says which trials compete.
"""

from __future__ import annotations

import logging
from pathlib import Path

from xlt.errors import ConfigError
from xlt.tracking.model_log import log_model_folder

log = logging.getLogger(__name__)
ALIAS = "champion"


def finished_trials(client, parent_id: str) -> list:
    runs = client.search_runs(
        [client.get_run(parent_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and attributes.status = 'FINISHED'",
    )
    if not runs:
        raise ConfigError(f"sweep {parent_id} has no finished trials to register")
    return runs


def competing(runs: list, protocol: str | None) -> list:
    """The trials of one protocol: the only one there is, or the one asked for."""
    protocols = sorted({r.data.tags.get("protocol", "unknown") for r in runs})
    if protocol is not None:
        chosen = [r for r in runs if r.data.tags.get("protocol") == protocol]
        if not chosen:
            raise ConfigError(f"no trial has protocol {protocol!r}; the sweep has {protocols}")
        return chosen
    if len(protocols) > 1:
        raise ConfigError(f"the trials ran under different protocols {protocols}; choose one "
                          "with --protocol PROTOCOL")  # fmt: skip
    return runs


def source_dev_metric(run) -> str:
    """`best/dev/<primary>/<source>`: the source dev score of the selected weights."""
    tags = run.data.tags
    primary = tags.get("selection_metric", "dev/acc/x").split("/")[1]
    return f"best/dev/{primary}/{tags.get('source_lang', '')}"


def best_trial(runs: list):
    scored = [(r.data.metrics.get(source_dev_metric(r)), r) for r in runs]
    scored = [(score, r) for score, r in scored if score is not None]
    if not scored:
        raise ConfigError("no trial has a source-dev score (best/dev/...): trials that ran "
                          "with selection=final or without a dev set cannot be ranked")  # fmt: skip
    return max(scored, key=lambda pair: pair[0])[1]


def ensure_logged(client, run, tracking_uri: str) -> str:
    """The run's model URI, logging it from its checkpoint first if it has none."""
    if uri := run.data.tags.get("model_uri"):
        return uri
    # torch and the model code: only for a run that logged no model
    from xlt.tracking.trained_models import export_checkpoint, run_checkpoint

    folder = export_checkpoint(*run_checkpoint(run))
    tags = {k: run.data.tags.get(k, "") for k in ("task", "dataset", "source_lang")}
    uri = log_model_folder(str(folder), run.info.run_id, tracking_uri, tags)
    client.set_tag(run.info.run_id, "model_uri", uri)
    return uri


def version_tags(client, run) -> dict[str, str]:
    """Protocol, selection and test metrics and the (masked) config, on the version."""
    tags = {k: v for k, v in run.data.tags.items()
            if k == "protocol" or k.startswith(("protocol.", "selection"))}  # fmt: skip
    tags.update({k: f"{v:.4f}" for k, v in run.data.metrics.items()
                 if k.startswith(("best/dev/", "test/"))})  # fmt: skip
    tags.update({k: run.data.tags.get(k, "") for k in ("strategy", "model", "dataset", "seed")})
    tags["run_id"] = run.info.run_id
    config = Path(client.download_artifacts(run.info.run_id, "config.yaml"))
    tags["config"] = config.read_text()[:5000]  # masked when logged (secrets never stored)
    return tags


def register_best(
    client, parent_id: str, name: str, tracking_uri: str, protocol: str | None = None
) -> tuple[str, object]:
    """Register the sweep's best trial as NAME, alias `champion`; (run id, model version)."""
    import mlflow

    best = best_trial(competing(finished_trials(client, parent_id), protocol))
    uri = ensure_logged(client, best, tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    version = mlflow.register_model(uri, name, tags=version_tags(client, best))
    client.set_registered_model_alias(name, ALIAS, version.version)
    log.info("registered %s version %s (run %s, %s %.4f) as %s@%s", name, version.version,
             best.info.run_id, source_dev_metric(best),
             best.data.metrics[source_dev_metric(best)], name, ALIAS)  # fmt: skip
    return best.info.run_id, version


def finished_run(client, run_id: str):
    try:
        run = client.get_run(run_id)
    except Exception as err:
        raise ConfigError(f"no run {run_id} in this store (give --tracking-uri)") from err
    if run.info.status != "FINISHED":
        raise ConfigError(f"run {run_id} is {run.info.status}, not FINISHED: only a finished "
                          "run's selected weights can be registered")  # fmt: skip
    if run.data.metrics.get(source_dev_metric(run)) is None:
        raise ConfigError(f"run {run_id} has no source-dev score ({source_dev_metric(run)}): "
                          "it cannot be ranked against a champion")  # fmt: skip
    return run


def champion_run(client, name: str):
    """The run behind NAME@champion, or None where NAME has no champion yet."""
    try:
        version = client.get_model_version_by_alias(name, ALIAS)
    except Exception:
        return None
    run_id = version.tags.get("run_id") or version.run_id
    return client.get_run(run_id) if run_id else None


def should_crown(run, champion) -> tuple[bool, str]:
    """Whether `run` takes the alias: no champion yet, or a higher source dev score under the
    same protocol (another protocol is not comparable, and keeps the champion)."""
    if champion is None:
        return True, "no champion yet"
    mine, theirs = run.data.tags.get("protocol"), champion.data.tags.get("protocol")
    if mine != theirs:
        return False, f"protocol {mine} is not comparable with the champion's {theirs}"
    score = run.data.metrics[source_dev_metric(run)]
    best = champion.data.metrics.get(source_dev_metric(champion), float("-inf"))
    if score > best:
        return True, f"{source_dev_metric(run)} {score:.4f} > the champion's {best:.4f}"
    return False, f"{source_dev_metric(run)} {score:.4f} <= the champion's {best:.4f}"


def register_run(client, run_id: str, name: str, tracking_uri: str) -> tuple[object, bool, str]:
    """Register one finished run as a version of NAME; (version, whether it is now the
    champion, why)."""
    import mlflow

    run = finished_run(client, run_id)
    crown, why = should_crown(run, champion_run(client, name))
    uri = ensure_logged(client, run, tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    version = mlflow.register_model(uri, name, tags=version_tags(client, run))
    if crown:
        client.set_registered_model_alias(name, ALIAS, version.version)
    return version, crown, why
