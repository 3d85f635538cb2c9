"""Generated bad files (issue 36): hypothesis writes `dataset=local` splits as JSONL, CSV, TSV
and Parquet from random rows (any Unicode text, label names or integers, several languages)
and damages them one way each: a byte-order mark, CRLF / CR / mixed line ends, UTF-16 or
Latin-1, a NUL byte, a missing, duplicated or empty column, labels of the wrong type, a dev
label unknown to train, a huge line, a truncated last line, zero rows. Each file set is read by
`load_local` (what the pipeline calls), and must either give exactly the rows written (the
reference reading) or be refused with one line naming the damaged file (and its line or row
where the damage has one). Any other exception fails the test; the outcome counts print."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlt.data.sources.local_files import load_local
from xlt.errors import XltError

CASES = 600
FORMATS = ("jsonl", "csv", "tsv", "parquet")
# damage -> whether the file set must still read as written (else: refused in one line)
DAMAGES = {"none": True, "bom": True, "crlf": True, "cr": True, "mixed_line_ends": True,
           "huge_line": True, "utf16": False, "latin1": False, "nul": False,
           "missing_column": False, "duplicate_column": False, "empty_column": False,
           "label_wrong_type": False, "unknown_dev_label": False, "truncated": False,
           "zero_rows": False}  # fmt: skip
TEXT_ONLY = {"bom", "crlf", "cr", "mixed_line_ends", "utf16", "latin1", "nul", "truncated"}
NEEDS_LINE = {"utf16", "latin1", "nul", "truncated", "duplicate_column", "label_wrong_type",
              "unknown_dev_label"}  # fmt: skip

texts = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                max_size=30).filter(lambda t: t.strip() and t == t.strip())  # fmt: skip
labels = st.one_of(st.sampled_from(["pos", "neg", "neutral", "ß", "日本"]), st.integers(0, 3))
rows = st.lists(st.fixed_dictionaries({"text": texts, "label": labels,
                                       "lang": st.sampled_from(["en", "de", "zh"])}),
                min_size=2, max_size=12)  # fmt: skip


def serialised(frame: pd.DataFrame, kind: str) -> bytes:
    """The rows as the format writes them (texts always quoted in CSV / TSV)."""
    if kind == "jsonl":
        lines = [json.dumps(r, ensure_ascii=False) for r in frame.to_dict("records")]
        return ("\n".join(lines) + "\n").encode("utf-8")
    out = io.StringIO()
    frame.to_csv(out, sep="\t" if kind == "tsv" else ",", index=False, quoting=csv.QUOTE_ALL,
                 lineterminator="\n")  # fmt: skip
    return out.getvalue().encode("utf-8")


def damaged_frame(frame: pd.DataFrame, damage: str, draw) -> pd.DataFrame:
    if damage == "missing_column":
        return frame.drop(columns=[draw(st.sampled_from(["text", "label", "lang"]))])
    if damage == "duplicate_column":
        return pd.concat([frame, frame[["text"]]], axis=1)
    if damage == "empty_column":
        return frame.assign(text="")
    if damage == "label_wrong_type":
        bad = draw(st.sampled_from([[1, 2], {"a": 1}, 1.5, True, None]))
        frame = frame.astype({"label": object})
        frame.at[frame.index[-1], "label"] = bad
        return frame
    if damage == "zero_rows":
        return frame.iloc[:0]
    return frame


def damaged_bytes(raw: bytes, damage: str, draw) -> bytes:
    if damage == "bom":
        return b"\xef\xbb\xbf" + raw
    if damage == "crlf":
        return raw.replace(b"\n", b"\r\n")
    if damage == "cr":
        return raw.replace(b"\n", b"\r")
    if damage == "mixed_line_ends":
        lines = raw.split(b"\n")
        ends = [draw(st.sampled_from([b"\n", b"\r\n", b"\r"])) for _ in lines[:-1]]
        return b"".join(line + end for line, end in zip(lines, ends, strict=False)) + lines[-1]
    if damage == "utf16":
        return raw.decode("utf-8").encode("utf-16")
    if damage == "latin1":
        return raw.replace(b"\n", "é\n".encode("latin-1"), 1)  # one Latin-1 byte on line 1
    if damage == "nul":
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + b"\x00" + raw[at:]
    if damage == "truncated":  # cut inside the last row's quoted text
        last = raw.rstrip(b"\n").rfind(b"\n") + 1
        return raw[: last + 3]
    return raw


def write(path: Path, frame: pd.DataFrame, kind: str, damage: str, draw) -> None:
    if kind == "parquet":  # typed columns: labels as names, a wrong type is a missing label
        frame = frame.astype({"label": str})
        if damage == "label_wrong_type":
            frame.loc[frame.index[-1], "label"] = None
        damaged_frame(frame, damage if damage != "label_wrong_type" else "none", draw).to_parquet(
            path, index=False
        )
        return
    if kind == "jsonl" and damage == "duplicate_column":  # a key twice in the first object
        raw = serialised(frame, kind).replace(b"{", b'{"text": "again", ', 1)
        path.write_bytes(raw)
        return
    frame = damaged_frame(frame, damage, draw)
    path.write_bytes(damaged_bytes(serialised(frame, kind), damage, draw))


def combinations() -> list[tuple[str, str]]:
    """Every (format, damage) that the format can carry."""
    out = []
    for kind in FORMATS:
        for damage in DAMAGES:
            if kind == "parquet" and damage in TEXT_ONLY | {"duplicate_column"}:
                continue  # binary, typed columns, unique names: pyarrow writes none of these
            if kind in ("csv", "tsv") and damage == "label_wrong_type":
                continue  # every cell is text there: no wrong type to write
            out.append((kind, damage))
    return out


def reference(train: list[dict], dev: list[dict]) -> dict[str, list[tuple]]:
    """What the files say: texts, label names and languages per split, in file order."""
    return {split: [(r["text"], str(r["label"]), r["lang"]) for r in rows_]
            for split, rows_ in (("train", train), ("dev", dev))}  # fmt: skip


def one_case(folder: Path, case: tuple, draw) -> str:
    """Write one damaged file set, read it; the outcome, or an assertion error."""
    kind, damage, train, dev = case
    dev = [dict(r, label=train[0]["label"]) for r in dev]  # dev labels are train's
    if damage == "unknown_dev_label":
        dev[-1]["label"] = "never-in-train"
    paths = {split: folder / f"{split}.{kind}" for split in ("train", "dev")}
    target = "dev" if damage == "unknown_dev_label" else draw(st.sampled_from(["train", "dev"]))
    if damage == "huge_line":  # a 1 MB text: part of what the files say
        rows_of = {"train": train, "dev": dev}[target]
        rows_of[0] = dict(rows_of[0], text=rows_of[0]["text"] + " x" * 500_000)
    for split, rows_ in (("train", train), ("dev", dev)):
        write(paths[split], pd.DataFrame(rows_), kind, damage if split == target else "none", draw)
    try:
        loaded = load_local({s: str(p) for s, p in paths.items()})
    except XltError as err:
        message = str(err)
        assert not DAMAGES[damage], f"{damage} in {kind} should read: {message}"
        assert "\n" not in message and paths[target].name in message, message
        if damage in NEEDS_LINE:
            assert " line " in message or " row " in message, message
        return f"refused: {damage}"
    assert DAMAGES[damage], f"{damage} in {kind} was accepted"
    names = loaded.label_names
    got = {split: [(r["text"], names[r["label"]], r["lang"]) for r in loaded.splits[split]]
           for split in ("train", "dev")}  # fmt: skip
    assert got == reference(train, dev), f"{damage} in {kind} read differently"
    return f"read as written: {damage}"


@pytest.mark.filterwarnings("ignore")
def test_generated_files_are_read_as_written_or_refused_in_one_line(tmp_path_factory):
    seen: Counter = Counter()
    pairs = combinations()

    def checker(pair: tuple[str, str]):
        @settings(max_examples=-(-CASES // len(pairs)), derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)  # fmt: skip
        @given(train=rows, dev=rows, data=st.data())
        def check(train, dev, data) -> None:
            folder = tmp_path_factory.mktemp("files")
            seen[one_case(folder, (*pair, train, dev), data.draw)] += 1

        return check

    for pair in pairs:
        checker(pair)()
    print(f"\n{sum(seen.values())} generated file sets, {len(pairs)} format x damage pairs:")
    for outcome, count in sorted(seen.items()):
        print(f"  {count:4d}  {outcome}")
    assert sum(seen.values()) >= CASES and len(seen) == len(DAMAGES)


def test_a_refused_file_ends_its_run_failed_with_the_line(tmp_path, token_cache):
    """Through the pipeline: the run that read the file is FAILED, its `error` tag the line."""
    from mlflow import MlflowClient

    from tests.golden import run_in_process
    from xlt.errors import DataError

    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a", "label": "x", "lang": "en"}\n{"text": "b", "label": [1], '
                     '"lang": "en"}\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(DataError) as err:
        run_in_process(["dataset=local", f"dataset.files.train={train}", "model=tiny_random"],
                       tmp_path, token_cache, "bad")  # fmt: skip
    client = MlflowClient(f"sqlite:///{tmp_path}/outputs/mlflow.db")
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.status == "FAILED" and str(err.value) in run.data.tags["error"]
    assert "train.jsonl row 2: label is '[1]' (list)" in str(err.value)
