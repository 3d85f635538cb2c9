"""Finding a trained model by what a user has in hand: an MLflow model URI (`models:/NAME@alias`,
`models:/m-ID`, `runs:/ID/model`), a run id, a model folder or a checkpoint.

A run that did not log its model (sweep trials by default) is exported from its selected
checkpoint on demand, with the run's own config, and can then be logged (the registry does).
"""

from __future__ import annotations

from pathlib import Path

from xlt.config.saved import saved_config
from xlt.errors import ConfigError
from xlt.models.export import export_model, input_example, model_meta
from xlt.models.init_encoder import RUN_ID
from xlt_serving.bundle import META_FILE
from xlt_serving.runtime import TextModel


def export_checkpoint(checkpoint: Path, out_dir: Path) -> Path:
    """The model folder of a run folder's checkpoint (built once, next to the checkpoints)."""
    import torch

    # Lightning, transformers, datasets: only a checkpoint export pays for them, not
    # `xlt-predict` on an already exported or logged model.
    from xlt.components import build, prepare

    folder = out_dir / "model"
    if (folder / META_FILE).is_file() and folder.stat().st_mtime >= checkpoint.stat().st_mtime:
        return folder
    if not (out_dir / "config.yaml").is_file():
        raise ConfigError(f"{checkpoint}: its run folder {out_dir} has no config.yaml")
    cfg = saved_config(out_dir, f"the model of {out_dir}")
    cfg.paths.output_dir = str(out_dir)
    parts = prepare(build(cfg))
    try:  # weights only: a file that would run code when unpickled is refused, not executed
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as err:
        raise ConfigError(f"{checkpoint}: not a loadable checkpoint ({type(err).__name__}: "
                          f"{str(err).splitlines()[0][:200]})") from err  # fmt: skip
    parts.module.load_state_dict(state, strict=True)
    config = parts.config
    info = {"dataset": config.dataset.name, "source_lang": parts.source_lang,
            "checkpoint": checkpoint}  # fmt: skip
    meta = model_meta(config.model, config.trainer.precision, parts.task,
                      parts.data.label_names, parts.net, info,
                      weights=str(getattr(config.logger, "model_weights", "fp32")))  # fmt: skip
    example = input_example(parts.data, parts.task)
    export_model(parts.net, parts.tokenizer, meta, config.model, folder, example)
    return folder


def run_checkpoint(run) -> tuple[Path, Path]:
    """(checkpoint, run folder) of a finished run's selected weights."""
    out_dir = Path(run.data.tags.get("output_dir", ""))
    best = run.data.tags.get("best_checkpoint")
    checkpoint = Path(best) if best else out_dir / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        raise ConfigError(
            f"run {run.info.run_id} logged no model and its checkpoint {checkpoint} is gone; "
            "retrain it with logger.log_model=true"
        )
    return checkpoint, out_dir


def load_model(spec: str, tracking_uri: str, engine: str | None = None):
    """A `xlt_serving.runtime.TextModel` for any of the accepted model specs (`engine`: what
    runs the encoder; default: what the model folder names)."""
    path = Path(spec)
    if (path / META_FILE).is_file():
        return TextModel(path, engine)
    if path.suffix == ".ckpt":
        if not path.is_file():
            raise ConfigError(f"no checkpoint {path}")
        return TextModel(export_checkpoint(path.resolve(), path.resolve().parent.parent), engine)
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    if RUN_ID.match(spec):
        client = mlflow.MlflowClient(tracking_uri)
        try:
            run = client.get_run(spec)
        except Exception as err:
            raise ConfigError(f"no run {spec} in {tracking_uri}") from err
        uri = run.data.tags.get("model_uri")
        if uri is None:
            return TextModel(export_checkpoint(*run_checkpoint(run)), engine)
        spec = uri
    if not spec.startswith(("models:/", "runs:/")):
        raise ConfigError(f"{spec!r} is not a model: give models:/NAME@champion, runs:/ID/model, "
                          "a run id, a model folder or a .ckpt file")  # fmt: skip
    try:
        loaded = mlflow.pyfunc.load_model(spec)
    except Exception as err:
        raise ConfigError(f"{spec} does not resolve in {tracking_uri}: "
                          f"{str(err).splitlines()[0][:200]}") from err  # fmt: skip
    model = loaded.unwrap_python_model().model
    return model if engine in (None, model.engine) else TextModel(model.folder, engine)
