"""Where in the network do the languages align? Retrieval P@1 of parallel pairs from each
layer's mean-pooled states, for the pretrained encoder and, if given, fine-tuned weights
(an xlt-train checkpoint or an xlt-align aligned encoder, by path or run id)."""

from __future__ import annotations

from pathlib import Path

from xlt.align.job import AlignJob
from xlt.align.tasks.bitext import layer_accuracy, pair_embeddings
from xlt.align.tasks.common import markdown, text_encoder
from xlt.config.instantiate import instantiate_spec
from xlt.config.validate import resolve_languages


def plot(curves: dict[str, list[float]], title: str, path: Path) -> None:
    from xlt.reporting.plots import plt, save_figure  # matplotlib only when a curve is drawn

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in curves.items():
        ax.plot(range(len(values)), values, marker="o", label=label)
    ax.set(xlabel="layer (0 = embeddings)", ylabel="retrieval P@1", title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def run(
    job: AlignJob,
    tracker,
    split: str = "test",
    scoring: str = "cosine",
    weights: str | None = None,
    name: str = "layers",
) -> dict[str, float]:
    data = instantiate_spec(job.dataset.loader, "dataset.loader")
    source, targets = resolve_languages(job.dataset, data)
    variants = {"pretrained": None} | ({"fine-tuned": weights} if weights else {})
    rows, metrics = [], {}
    for target in targets:
        curves = {}
        for label, spec in variants.items():
            encoder = text_encoder(job.encoder, "encoder", spec, tracker.client)
            layers = list(range(encoder.num_layers + 1))
            src, tgt = pair_embeddings(encoder, data, split, source, target, layers,
                                       job.dataset.limit)  # fmt: skip
            curves[label] = layer_accuracy(src, tgt, scoring)
            key = f"layers/{source}-{target}/{label}/p1"
            for layer, value in enumerate(curves[label]):
                tracker.log_metrics({key: value}, step=layer)
                rows.append(
                    {"pair": f"{source}-{target}", "weights": label, "layer": layer, "p1": value}
                )
            metrics[f"{key}_best_layer"] = max(layers, key=lambda i: curves[label][i])
        path = Path(job.output_dir) / f"layers_{source}-{target}.png"
        plot(curves, f"{job.encoder.name}: {source}-{target} {split} pairs ({scoring})", path)
        tracker.log_file(path)
    tracker.log_metrics(metrics)
    tracker.log_table("layers.csv", rows)
    print(f"\nLayer-wise {scoring} retrieval P@1 (mean of both directions)\n{markdown(rows)}")
    return metrics
