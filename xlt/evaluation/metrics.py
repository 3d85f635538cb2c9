"""Per-language classification metrics and the cross-lingual summary (target average, gap)."""

from __future__ import annotations

from statistics import mean

from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

METRICS = ("acc", "macro_f1")


def language_metrics(num_classes: int, sync: bool = True) -> MetricCollection:
    """Accuracy and macro-F1; `sync=False` for rows already gathered from every process."""
    options = {"num_classes": num_classes, "sync_on_compute": sync}
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(average="micro", **options),
            "macro_f1": MulticlassF1Score(average="macro", **options),
        }
    )


def summarize(
    split: str,
    scores: dict[str, dict[str, float]],
    source: str,
    targets: list[str],
    primary: str = "acc",
) -> dict[str, float]:
    """Flat metrics named `{split}/{metric}/{lang}`, plus `avg_target` and `{split}/transfer_gap`
    (the source's primary metric minus its mean over the targets)."""
    out = {f"{split}/{m}/{lang}": v for lang, ms in scores.items() for m, v in ms.items()}
    present = [t for t in targets if scores.get(t)]
    if present:
        for m in scores[present[0]]:
            out[f"{split}/{m}/avg_target"] = mean(scores[t][m] for t in present)
        if scores.get(source):
            gap = scores[source][primary] - out[f"{split}/{primary}/avg_target"]
            out[f"{split}/transfer_gap"] = gap
    return out
