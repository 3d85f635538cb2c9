"""MAD-X's language adapters: masked-LM steps with the softmax over the encoder's whole
vocabulary (250k pieces for multilingual-e5) against only the pieces the language's corpus uses
(`strategy.mlm.output_vocabulary=corpus`, the default), each in fp32 and under bf16 autocast
(`strategy.mlm.precision`, the run's `trainer.precision`). Same adapters, same batches, same
masks; `xlt-train strategy=madx`'s own pre-training (`strategy.pretrain`), each variant with an
empty adapter cache, alternating within each round; the figure is the median over rounds.
`--data gettext` trains the en and zh adapters on the many-language benchmark's messages.

    .venv/bin/python benchmarks/masked_lm.py [--steps 20] [--rounds 2] [--data hsk|gettext]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from common import compose, table

GETTEXT = ["dataset=gettext_domains", "dataset.target_langs=[zh]", "dataset.loader.domains=8",
           "dataset.loader.per_domain=70"]  # fmt: skip
VARIANTS = {"full, fp32": ("full", "32-true"), "corpus, fp32": ("corpus", "32-true"),
            "corpus, bf16 autocast": ("corpus", "bf16-mixed")}  # fmt: skip


def pretrain_seconds(steps: int, variant: tuple[str, str], data: str) -> tuple[float, dict]:
    """Seconds of masked-LM pre-training for every language adapter of the data."""
    from xlt.components import build

    vocabulary, precision = variant
    with tempfile.TemporaryDirectory() as cache:
        cfg = compose("strategy=madx", f"strategy.mlm.steps={steps}",
                      f"strategy.mlm.output_vocabulary={vocabulary}",
                      f"strategy.mlm.precision={precision}", f"strategy.cache_dir={cache}",
                      *(GETTEXT if data == "gettext" else []))  # fmt: skip
        parts = build(cfg)
        parts.datamodule.setup("fit")
        start = time.perf_counter()
        pretrained = parts.strategy.pretrain(parts.net, parts.datamodule.training_data(),
                                             parts.tokenizer)  # fmt: skip
        return time.perf_counter() - start, pretrained.metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", choices=("hsk", "gettext"), default="hsk")
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    metrics = {}
    for _ in range(args.rounds):
        for name, variant in VARIANTS.items():
            took, metrics[name] = pretrain_seconds(args.steps, variant, args.data)
            seconds[name].append(took)
    full = statistics.median(seconds["full, fp32"])
    rows = [{"output vocabulary, precision": name, "s per MLM step (all adapters)":
             statistics.median(s) / args.steps, "speed-up": full / statistics.median(s),
             **{k: v for k, v in metrics[name].items() if "loss" in k}}
            for name, s in seconds.items()]  # fmt: skip
    table(
        rows,
        f"MAD-X masked-LM pre-training ({args.data}), {args.steps} steps x {args.rounds} rounds",
    )


if __name__ == "__main__":
    main()
