"""The one place a training run talks to MLflow: the Recorder turns what the phases of a run
built, read, chose and measured into tags, params, metrics, tables and artifacts on the run's
RunTracker. The phases themselves (xlt/pipeline.py) only hand it their results."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import OmegaConf

from xlt.components import Components
from xlt.data.access import RECORD_FILE
from xlt.errors import TrackingError
from xlt.evaluation.protocol import protocol_flags, protocol_label, protocol_tags
from xlt.evaluation.results_table import language_rows, print_results
from xlt.evaluation.translated_inputs import is_translated, original_language
from xlt.models.export import cannot_export, export_model, input_example, model_meta
from xlt.strategies.base import Pretrained
from xlt.tracking.inputs import dataset_inputs
from xlt.tracking.job import record_job
from xlt.tracking.run_plots import PLOTS_DIR, write_run_plots
from xlt.tracking.run_tracker import RunTracker
from xlt.training.checkpoint_files import resume_point
from xlt.training.stages import Selected

log = logging.getLogger(__name__)
PREDICTIONS_FILE = "test_predictions.csv"  # per test row: lang, id, its score and prediction
MODEL_DIR = "model"  # the exported model folder in the run folder (logger.log_model)


def translate_test_metrics(stats: dict) -> dict[str, float]:
    """translate_test/untranslated/<split>/<lang> (rows scored untranslated) and .../chrf."""
    return {f"translate_test/{name}/{split}/{original_language(lang)}": value
            for (split, lang), values in stats.items()
            for name, value in values.items()}  # fmt: skip


class Recorder:
    """Records one run's phases on its MLflow run (through `tracker`); `log_model`: whether the
    selected weights become the run's MLflow model (`logger.log_model`, `auto` decided)."""

    def __init__(self, tracker: RunTracker, log_model: bool = True) -> None:
        self.tracker = tracker
        self.log_model = log_model
        # What the run is (sizes, data and augmentation counts), logged at its end: MLflow's
        # run page lists metrics in the order first logged, and these would head it, above
        # every dev and test score.
        self.facts: dict[str, float] = {}

    @property
    def logger(self):
        """The Lightning logger that carries training curves to the same run."""
        return self.tracker.logger

    def start(self, parts: Components, git: dict, resume_from: Path | None) -> None:
        """Tags, params, manifest and data notes that exist before training starts."""
        config, translator = parts.config, parts.augmentation.translator
        tags = {**parts.strategy.describe(), **parts.resolved, "source_lang": parts.source_lang,
                "target_langs": ",".join(parts.targets), "selection_metric": parts.selection_metric,
                "data_fingerprint": parts.data.fingerprint}  # fmt: skip
        if translator is not None:
            tags["augmentation.translator"] = translator.name
        self.tracker.set_tags(tags)
        record = OmegaConf.to_container(OmegaConf.structured(config), enum_to_str=True)
        if config.print_config:
            print(OmegaConf.to_yaml(record))
        if resume_from is None and not config.resume:
            out_dir = Path(config.paths.output_dir)
            record_job(self.tracker, record, out_dir, git, parts.data.fingerprint)
        else:
            self.tracker.set_tags({"resumed_from": str(resume_from or "start"),
                              **resume_point(resume_from)})  # fmt: skip
        if parts.data.attribution:
            self.tracker.log_text("DATA_ATTRIBUTION.txt", parts.data.attribution + "\n")
        if parts.pretrained is not None:
            self._pretrained(parts.pretrained)
        trainable, total = parts.net.count_parameters()
        self.facts.update({"params/trainable": trainable, "params/total": total})
        log.info("%s: %d of %d parameters train", parts.strategy.name, trainable, total)
        self._augmentation(parts)
        truncated = parts.datamodule.truncated.items()
        self.facts.update({f"data/truncated/{k}": n for k, n in truncated})
        self.facts.update(translate_test_metrics(parts.datamodule.translate_test_stats))
        self.protocol(parts)

    def _pretrained(self, pretrained: Pretrained) -> None:
        """The strategy's label-free parts (MAD-X's language adapters) as artifacts a later run
        can load by this run's id, with how each was obtained."""
        self.tracker.set_tags(pretrained.tags)
        self.facts.update(pretrained.metrics)
        for artifact_path, folder in pretrained.artifacts.items():
            self.tracker.log_folder(folder, artifact_path)

    def _augmentation(self, parts: Components) -> None:
        """How many rows each augmentation produced, a sample of them, and whether it was cached."""
        counts, sample = parts.datamodule.augmentation_summary()
        if not counts:
            return
        self.facts.update({f"augment/n_{kind}": n for kind, n in counts.items()})
        aug = parts.augmentation
        self.facts.update({f"augment/coverage/{lang}": v for lang, v in aug.coverage.items()})
        langs = aug.languages or parts.targets
        if aug.reports_untranslated and "original" in counts:  # rows no translation reached
            self.facts["augment/untranslated"] = (counts["original"] * len(langs)
                                                  - counts.get(aug.name, 0))  # fmt: skip
        for lang in langs if aug.translator is not None else []:
            self.facts.update({f"augment/{k}": v for k, v in aug.translator.metrics(lang).items()})
        self.tracker.set_tags({"augmentation.cache": aug.cache_status})
        if sample:
            lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in sample)
            self.tracker.log_text("augmented_sample.jsonl", lines)

    def protocol(self, parts: Components) -> dict[str, bool]:
        """data_access.json and the protocol tags, from what the run has read so far."""
        access = parts.data.access
        flags = protocol_flags(access.entries(), parts.source_lang, access.inherited)
        text = access.to_json(source=parts.source_lang, flags=flags, protocol=protocol_label(flags))
        self.tracker.log_text(RECORD_FILE, text + "\n")
        self.tracker.set_tags(protocol_tags(flags))
        return flags

    def _model(self, parts: Components) -> None:
        """The selected weights as the run's MLflow model; a store that refuses it costs the run
        nothing (the folder stays in the run folder, `xlt-predict` reads it)."""

        config = parts.config
        if reason := cannot_export(parts.net):
            log.warning("logger.log_model: %s", reason)
            return
        info = {
            "run_id": self.tracker.run_id,
            "dataset": config.dataset.name,
            "source_lang": parts.source_lang,
        }
        meta = model_meta(config.model, config.trainer.precision, parts.task,
                          parts.data.label_names, parts.net, info,
                          weights=str(config.logger.model_weights),
                          engine=str(config.logger.model_engine))  # fmt: skip
        folder = Path(config.paths.output_dir) / MODEL_DIR
        example = input_example(parts.data, parts.task)
        size = export_model(parts.net, parts.tokenizer, meta, config.model, folder, example)
        tags = {
            "task": parts.task.name,
            "dataset": config.dataset.name,
            "source_lang": parts.source_lang,
        }
        try:
            uri = self.tracker.log_model(folder, tags)
        except TrackingError as err:
            log.warning("the model was not logged to MLflow (%s); it is in %s", err, folder)
            return
        self.tracker.set_tags({"model_uri": str(uri)})
        self.tracker.log_metrics({"model/size_mb": round(size / 2**20, 1)})

    def finish(self, parts: Components, trainer, selected: Selected, results: dict) -> None:
        """The selected weights' dev scores as best/..., the per-language table, the model, the
        end of the run."""
        self.tracker.log_metrics({f"best/{key}": value for key, value in selected.dev.items()})
        task = parts.task
        translated = [lang for _, lang in parts.datamodule.test_keys if is_translated(lang)]
        rows = language_rows(results, [*parts.languages, *translated], parts.source_lang,
                             task.metric_names, task.primary_metric)  # fmt: skip
        self.tracker.log_table("metrics_per_language.csv", rows)
        if trainer.is_global_zero:  # the run page's pictures
            plots = write_run_plots(self.tracker.out_dir, rows, task.primary_metric)
            if plots is not None:
                self.tracker.log_folder(plots, PLOTS_DIR)
        per_row = [{"lang": lang, **dict(zip(scores, values, strict=True))}
                   for lang, scores in parts.module.test_rows.items()
                   for values in zip(*scores.values(), strict=True)]  # fmt: skip
        if per_row:  # what reports bootstrap over (and pair runs by)
            self.tracker.log_table(PREDICTIONS_FILE, per_row)
        dataset = parts.config.dataset  # the UI's Dataset column
        self.tracker.log_inputs(dataset_inputs(parts.data, dataset.name, dataset.files))
        if trainer.is_global_zero:
            self.tracker.log_metrics(parts.strategy.finish())  # e.g. the probe's feature cache
        if trainer.is_global_zero and self.log_model:
            self._model(parts)
        if trainer.is_global_zero:
            config, tracker = parts.config, self.tracker
            title = (f"{config.dataset.name} | {config.model.name} | {parts.strategy.name} | "
                     f"seed {config.seed}")  # fmt: skip
            print_results(rows, results, title, task.primary_metric)
            print(f"MLflow run {tracker.run_id}. Open the UI with:\n  {tracker.ui_command()}")
        self._log_facts()
        self.tracker.finish()  # sends anything queued while the store was unreachable

    def failed(self, err: BaseException) -> None:
        """The run FAILED with its error; what it was (its facts) is kept on it."""
        self._log_facts()
        self.tracker.fail(err)

    def _log_facts(self) -> None:
        if self.facts and self.tracker.run_id is not None:
            self.tracker.log_metrics(self.facts)
            self.facts = {}

    def fitted(self, stage_epochs: dict[str, int], counters: dict[str, float]) -> None:
        """What training did: epochs per stage, what train-time batch transforms changed."""
        self.tracker.set_tags({f"epochs.{name}": str(n) for name, n in stage_epochs.items()})
        self.facts.update({f"augment/{name}": value for name, value in counters.items()})

    def selected(self, parts: Components, selected: Selected) -> None:
        """Which weights are tested (and the protocol, counting what training read)."""
        self.protocol(parts)  # training may have read more (few-shot draws)
        if selected.checkpoint is not None:
            self.tracker.set_tags({"best_checkpoint": str(selected.checkpoint.resolve())})
        self.tracker.set_tags({"selected_weights": selected.how,
                               "selected_step": str(selected.step)})  # fmt: skip
