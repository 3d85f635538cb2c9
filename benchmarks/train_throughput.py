"""Training throughput: xlt's loop vs the Hugging Face `Trainer` configured for the same work
(the embedding table frozen, its own length grouping, its fused AdamW, clipping 1.0: the
headline ratio), with the plain Trainer as a second row; same model (multilingual-e5-small),
data (HSK topic, English TRAIN), batch size 32, length limit 128 and step count; runs
alternate (xlt, Trainer, xlt, Trainer, ...) in one process.

Throughput is steady state: from the second step's forward pass to the last one's, in both
loops (set-up and the first step are left out). Achieved FLOP/s = 6 x (parameters on the
compute path: the transformer layers and head, not the embedding lookup) x real (non-padding)
tokens per second, against this machine's dense fp32 matmul peak measured in the same run.

Peak memory: each variant once more in a fresh process of its own (`--only NAME`), whose peak
resident set (VmHWM: libraries, model, optimizer state, activations) is reported.

    .venv/bin/python benchmarks/train_throughput.py [--steps 30] [--rounds 5] [--no-bf16]

Each figure is the median over the interleaved rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import lightning as L
from common import ROOT, build_training, compose, matmul_peak_flops, memory_mib, table

BASELINE = "HF Trainer, same work (frozen embeddings, group_by_length, fused AdamW)"
BASELINE_EAGER = f"{BASELINE}, eager attention"
KERNELS_ON = {"fast_dropout": True, "fused_qkv": True, "cpu_attention": True}  # opt-in


def compute_path_params(encoder) -> int:
    embeddings = sum(p.numel() for p in encoder.get_input_embeddings().parameters())
    return sum(p.numel() for p in encoder.parameters()) - embeddings


def xlt_run(
    steps: int,
    freeze_embeddings: bool = True,
    length_grouped: bool = True,
    fast_dropout: bool = False,
    precision: str = "32-true",
    compile: bool = False,
    fused_qkv: bool = False,
    cpu_attention: bool = False,
) -> dict:
    from xlt.training.module import TransferModule

    _, bundle, task, strategy, net, dm = build_training(
        freeze_embeddings, length_grouped, fast_dropout, fused_qkv, cpu_attention
    )
    module = TransferModule(net, task, {}, strategy, [], [], "en", ["zh"])
    if compile:
        net.encoder.compile(dynamic=True)  # as `compile=true` does
    meter = StepMeter(net)
    trainer = L.Trainer(
        max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, gradient_clip_val=1.0,
        precision=precision,
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=dm.train_dataloader())
    params = compute_path_params(bundle.encoder) + net.head.weight.numel()
    return {**meter.result(), "params": params}


class StepMeter:
    """Steady state: the time between the forward passes of step 2 and of the last step, and the
    examples and real tokens of the steps in between (the first step's allocations and the
    set-up before it are left out, for both loops alike)."""

    def __init__(self, model) -> None:
        self.times: list[float] = []
        self.sizes: list[tuple[int, int]] = []
        model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs) -> None:
        if not module.training:
            return
        mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
        self.times.append(time.perf_counter())
        self.sizes.append((int(mask.shape[0]), int(mask.sum())))

    def result(self) -> dict:
        inside = self.sizes[1:-1]
        return {"examples": sum(n for n, _ in inside), "tokens": sum(t for _, t in inside),
                "seconds": self.times[-1] - self.times[1],
                "first step (s)": self.times[1] - self.times[0]}  # fmt: skip


def trainer_run(
    steps: int, same_work: bool = True, bf16: bool = False, attention: str = "sdpa"
) -> dict:
    """The Hugging Face Trainer on the same work as xlt's default (`same_work`): the embedding
    table frozen, its own length grouping (`group_by_length`), its default fused AdamW,
    clipping at 1.0; `same_work=False`: as a plain user writes it (everything trainable,
    random order). DataCollatorWithPadding either way. `attention`: transformers'
    implementation ("sdpa", its default, or "eager", faster in CPU training here)."""
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,  # fmt: skip
        Trainer,
        TrainingArguments,
    )

    from xlt.config.instantiate import instantiate_spec
    from xlt.models.sources.me5_offline import me5_small_folder

    cfg = compose()
    data = instantiate_spec(cfg.dataset.loader, "dataset.loader")
    folder = me5_small_folder(cfg.paths.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=len(data.label_names), attn_implementation=attention
    )
    train = data.subset("train", "en", purpose="training")
    ds = Dataset.from_dict({"text": train["text"], "label": train["label"]}).map(
        lambda b: tokenizer(["query: " + t for t in b["text"]], truncation=True, max_length=128),
        batched=True, remove_columns=["text"],
    )  # fmt: skip
    meter = StepMeter(model)
    if same_work:
        model.get_input_embeddings().weight.requires_grad_(False)
        ds = ds.map(lambda b: {"length": [len(x) for x in b["input_ids"]]}, batched=True)
    args = TrainingArguments(
        output_dir=str(ROOT / "outputs" / "benchmarks" / "hf"), per_device_train_batch_size=32,
        max_steps=steps, learning_rate=2e-4, report_to=[], save_strategy="no",
        logging_steps=10_000, use_cpu=True, dataloader_num_workers=0, disable_tqdm=True, seed=0,
        max_grad_norm=1.0, bf16=bf16,
        train_sampling_strategy="group_by_length" if same_work else "random",
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=ds,
                      data_collator=DataCollatorWithPadding(tokenizer))  # fmt: skip
    torch.manual_seed(0)
    trainer.train()
    params = compute_path_params(model.base_model) + sum(
        p.numel() for n, p in model.named_parameters() if not n.startswith(model.base_model_prefix)
    )
    return {**meter.result(), "params": params}


def peak_rss_mib(name: str, steps: int, flags: list[str]) -> float:
    """Peak resident set of a fresh process that runs only variant `name` (imports, model,
    optimizer state and activations: what a user's process holds), in MiB."""
    args = [sys.executable, __file__, "--only", name, "--steps", str(steps), *flags]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1].removeprefix("peak_rss_mib="))


def variants_to_run(args: argparse.Namespace) -> dict[str, Callable[[], dict]]:
    """The measured variants by name: the same-work Trainers first (the baselines)."""
    steps = args.steps
    variants = {
        BASELINE: lambda: trainer_run(steps),
        BASELINE_EAGER: lambda: trainer_run(steps, attention="eager"),
        "HF Trainer, plain (everything trainable, random order)": lambda: trainer_run(
            steps, same_work=False
        ),
        "xlt default (frozen embeddings, length-grouped, fused AdamW)": lambda: xlt_run(steps),
        "xlt default with the opt-in kernels (fast dropout, fused Q/K/V, xlt_cpu attention)": (
            lambda: xlt_run(steps, **KERNELS_ON)
        ),
        "xlt, random order": lambda: xlt_run(steps, length_grouped=False),
        "xlt, random order, everything trainable": lambda: xlt_run(
            steps, freeze_embeddings=False, length_grouped=False
        ),
    }
    if args.bf16:
        bf16 = "bf16-mixed"
        variants[f"{BASELINE}, bf16=True"] = lambda: trainer_run(steps, bf16=True)
        variants[f"{BASELINE_EAGER}, bf16=True"] = lambda: trainer_run(
            steps, bf16=True, attention="eager"
        )
        variants["xlt default, bf16-mixed autocast"] = lambda: xlt_run(steps, precision=bf16)
        variants["xlt default, bf16, with the opt-in kernels"] = lambda: xlt_run(
            steps, precision=bf16, **KERNELS_ON
        )
    if args.compile:
        variants["xlt default, torch.compile"] = lambda: xlt_run(steps, compile=True)
    return variants


def fastest_trainer(results: dict[str, list[dict]], bf16: bool) -> float:
    """Examples/s of the faster same-work Trainer (SDPA or eager attention) in that precision:
    the headline baseline."""
    names = [n for n in results if n.startswith(BASELINE) and ("bf16" in n) == bf16]
    return max(statistics.median(r["examples"] / r["seconds"] for r in results[n]) for n in names)


def result_rows(results: dict[str, list[dict]], peak: dict[str, float], memory) -> list[dict]:
    """One row per variant: medians over the rounds, ratios against the fastest same-work
    Trainer of the same precision (fp32 rows against fp32, bf16 rows against bf16)."""
    base = {bf16: fastest_trainer(results, bf16) for bf16 in {"bf16" in n for n in results}}
    rows = []
    for name, runs in results.items():
        ex_s = statistics.median(r["examples"] / r["seconds"] for r in runs)
        tok_s = statistics.median(r["tokens"] / r["seconds"] for r in runs)
        flops = 6 * runs[0]["params"] * tok_s
        rows.append({"variant": name, "examples/s": ex_s, "real tokens/s": tok_s,
                     "vs fastest Trainer (same work, precision)": ex_s / base["bf16" in name],
                     "achieved GFLOP/s": flops / 1e9,
                     "of fp32 peak": flops / peak["fp32"],
                     "first step (s)": max(r["first step (s)"] for r in runs),
                     "peak RSS (MiB)": memory[name]})  # fmt: skip
        if "bf16" in peak:
            rows[-1]["of bf16 peak"] = flops / peak["bf16"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians)")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                        help="the bf16 pair (default: where the CPU has bf16 units)")  # fmt: skip
    parser.add_argument("--compile", action="store_true", help="add a torch.compile run")
    parser.add_argument("--only", help="run this variant once and print its peak RSS")
    args = parser.parse_args()
    import torch

    from xlt_serving.precision import cpu_has_bf16_units

    if args.bf16 is None:
        args.bf16 = cpu_has_bf16_units()
    variants = variants_to_run(args)
    if args.only:
        variants[args.only]()
        print(f"peak_rss_mib={memory_mib('VmHWM')}")
        return
    results: dict[str, list[dict]] = {name: [] for name in variants}
    peaks = {"fp32": [], "bf16": []}
    for _ in range(args.rounds):  # alternate, so drift in machine load hits every variant
        peaks["fp32"].append(matmul_peak_flops())
        if args.bf16:
            peaks["bf16"].append(matmul_peak_flops(dtype=torch.bfloat16))
        for name, run in variants.items():
            results[name].append(run())
    flags = ["--bf16" if args.bf16 else "--no-bf16", *(["--compile"] if args.compile else [])]
    memory = {name: peak_rss_mib(name, min(args.steps, 10), flags) for name in variants}
    # The peak is the best of its measurements: the fraction is never flattered by a slow one.
    peak = {kind: max(values) for kind, values in peaks.items() if values}
    peaks_text = ", ".join(f"{k} {v / 1e9:.0f}" for k, v in peak.items())
    table(result_rows(results, peak, memory),
          f"Training, me5_small, HSK topic EN, batch 32, {args.steps} steps, medians of "
          f"{args.rounds} interleaved rounds, {torch.get_num_threads()} threads; matmul peak "
          f"GFLOP/s (best of {args.rounds}, measured now): {peaks_text}")  # fmt: skip


if __name__ == "__main__":
    main()
