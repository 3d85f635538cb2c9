"""A run's evaluation protocol, computed from its data-access record (xlt/data/access.py), never
from a strategy's or augmentation's name. Flags say what was used; the label names the common
case. Reports group by the label and never average across labels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from xlt.data.access import Purpose

# flag -> what sets it (the README's protocol table is generated from this and LABELS).
FLAGS: dict[str, str] = {
    "target_labels": "labelled target-language rows reached training or a sample draw",
    "target_text": "target-language text reached training or a translator",
    "translated_data": "a translator produced training rows (detail names which)",
    "dictionary": "a bilingual dictionary rewrote training words (code-switching)",
    "parallel_data": "gold parallel sentence pairs trained the weights (xlt-align's sentence "
    "alignment)",
    "target_dev_selection": "a target language's dev set picked the checkpoint",
    "no_selection": "no dev set picked the checkpoint (the last weights were tested)",
    "unknown_weights": "initial weights from a file without an xlt data-access record",
    "test_labels_used": "test labels were read for anything but evaluation (a leak)",
    "translate_test": "dev/test text was translated into the source language and scored too "
    "(metrics `<lang>.translate_test`)",
}
# label -> the rule, first match wins (suffixes for selection and weights follow).
LABELS: list[tuple[str, str]] = [
    ("invalid", "test_labels_used"),
    ("few-shot", "target_labels, and the target rows were drawn as a sample"),
    ("multilingual", "target_labels (whole target training sets)"),
    ("translate-train", "translated_data, no target_labels"),
    ("zero-shot+parallel-data", "parallel_data, none of the above"),
    ("zero-shot+target-text", "target_text, no translated_data, no target_labels"),
    ("zero-shot+dictionary", "dictionary, and none of the above"),
    ("zero-shot", "none of the above"),
]
SUFFIXES = {
    "target_dev_selection": "target-dev-selection",
    "no_selection": "no-selection",
    "unknown_weights": "external-weights",
    "translate_test": "translate-test",
}
TRAINING_SIDE = (Purpose.training, Purpose.sampling, Purpose.translation)
# What weights carry into every run started from them: what trained them, and a target dev set
# that picked them (the run's own `no_selection` is its own).
INHERITED = ("target_labels", "target_text", "translated_data", "dictionary", "parallel_data",
             "test_labels_used", "unknown_weights", "sampled_target",
             "target_dev_selection")  # fmt: skip


def _flags_of_reads(reads: Iterable[dict[str, Any]], source: str) -> dict[str, bool]:
    flags = dict.fromkeys(FLAGS, False)
    sampled = False
    for read in reads:
        purpose, target = Purpose(read["purpose"]), read["lang"] not in (source, "*")
        if read["split"] == "test" and read["labelled"] and purpose != Purpose.evaluation:
            flags["test_labels_used"] = True
        if target and read["labelled"] and purpose in (Purpose.training, Purpose.sampling):
            flags["target_labels"] = True
            sampled |= purpose == Purpose.sampling
        if target and purpose in TRAINING_SIDE:
            flags["target_text"] = True
        if purpose == Purpose.translation:
            flags["translated_data"] = True
        if purpose == Purpose.dictionary:
            flags["dictionary"] = True
        if purpose == Purpose.parallel:
            flags["parallel_data"] = True
        if purpose == Purpose.selection:
            flags["target_dev_selection"] |= target
        flags["translate_test"] |= purpose == Purpose.test_translation
    flags["sampled_target"] = sampled
    flags["no_selection"] = not any(Purpose(r["purpose"]) == Purpose.selection for r in reads)
    return flags


def protocol_flags(
    reads: list[dict[str, Any]], source: str, inherited: dict[str, dict[str, bool]] | None = None
) -> dict[str, bool]:
    """Flags of this run, OR-ed with those of every run its weights came from (a run started
    from a multilingual run is not zero-shot; from weights a target dev set picked, it is
    target-dev-selected). `no_selection` is the run's own."""
    flags = _flags_of_reads(reads, source)
    for origin in (inherited or {}).values():
        for name in INHERITED:
            flags[name] = flags.get(name, False) or bool(origin.get(name))
    return flags


def protocol_label(flags: dict[str, bool]) -> str:
    """One readable name for the flags, e.g. `zero-shot`, `translate-train+no-selection`."""
    if flags.get("test_labels_used"):
        base = "invalid"
    elif flags.get("target_labels"):
        base = "few-shot" if flags.get("sampled_target") else "multilingual"
    elif flags.get("translated_data"):
        base = "translate-train"
    elif flags.get("parallel_data"):
        base = "zero-shot+parallel-data"
    elif flags.get("target_text"):
        base = "zero-shot+target-text"
    elif flags.get("dictionary"):
        base = "zero-shot+dictionary"
    else:
        base = "zero-shot"
    return "+".join([base, *(suffix for flag, suffix in SUFFIXES.items() if flags.get(flag))])


def protocol_tags(flags: dict[str, bool]) -> dict[str, str]:
    """MLflow tags: `protocol` (the label) and `protocol.<flag>` = true/false."""
    tags = {f"protocol.{name}": str(bool(flags.get(name))).lower() for name in FLAGS}
    return {"protocol": protocol_label(flags), **tags}


def protocol_table() -> str:
    """The README's table (a test regenerates it and compares)."""
    lines = ["| protocol label | rule (first match wins) |", "|---|---|"]
    lines += [f"| `{label}` | {rule} |" for label, rule in LABELS]
    lines += [f"| `...+{suffix}` | {FLAGS[flag]} |" for flag, suffix in SUFFIXES.items()]
    lines += ["", "| flag (tag `protocol.<flag>`) | set when |", "|---|---|"]
    lines += [f"| `{name}` | {rule} |" for name, rule in FLAGS.items()]
    return "\n".join(lines) + "\n"
