"""MAD-X's language adapters: masked-LM steps with the softmax over the encoder's whole
vocabulary (250k pieces for multilingual-e5) against only the pieces the language's corpus uses
(`strategy.mlm.output_vocabulary=corpus`, the default). Same adapters, same batches, same
masks; `xlt-train strategy=madx`'s own pre-training (`strategy.pretrain`), each variant with an
empty adapter cache, alternating within each round; the figure is the median over rounds.

    .venv/bin/python benchmarks/masked_lm.py [--steps 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from common import compose, table


def pretrain_seconds(steps: int, vocabulary: str) -> tuple[float, dict]:
    """Seconds of masked-LM pre-training for every language adapter of the default data."""
    from xlt.components import build

    with tempfile.TemporaryDirectory() as cache:
        cfg = compose("strategy=madx", f"strategy.mlm.steps={steps}",
                      f"strategy.mlm.output_vocabulary={vocabulary}",
                      f"strategy.cache_dir={cache}")  # fmt: skip
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
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"full": [], "corpus": []}
    metrics = {}
    for _ in range(args.rounds):
        for vocabulary in seconds:
            took, metrics[vocabulary] = pretrain_seconds(args.steps, vocabulary)
            seconds[vocabulary].append(took)
    full = statistics.median(seconds["full"])
    rows = [{"output vocabulary": name, "s per MLM step (all adapters)":
             statistics.median(s) / args.steps, "speed-up": full / statistics.median(s),
             **{k: v for k, v in metrics[name].items() if "loss" in k}}
            for name, s in seconds.items()]  # fmt: skip
    table(rows, f"MAD-X masked-LM pre-training, {args.steps} steps x {args.rounds} rounds")


if __name__ == "__main__":
    main()
