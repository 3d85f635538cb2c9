"""task=bitext on users' own files: aligned pairs (a TSV, or two line-aligned files) and
unaligned pools to mine, with the real encoder, on HSK and on a corpus xlt was not built for
(Debian's Chinese translations of software messages, read from the machine's gettext
catalogues); bad files get one line."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import open_dict

from tests.test_align_tasks import compose_align
from xlt.align.cli import run
from xlt.align.gettext_corpus import message_pairs
from xlt.errors import XltError

CATALOGUES = Path("/usr/share/locale/zh_CN/LC_MESSAGES")


def run_bitext(tmp_path: Path, token_cache: Path, *overrides: str) -> tuple[dict, list[dict]]:
    cfg = compose_align(["task=bitext", *overrides], tmp_path)
    with open_dict(cfg):
        cfg.paths.cache_dir = str(token_cache)  # the converted e5 model, shared by the suite
    metrics = run(cfg)
    with (tmp_path / "run" / "mined_pairs.tsv").open(encoding="utf-8") as handle:
        mined = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return metrics, mined


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.slow
def test_bitext_on_line_aligned_files_and_pools_from_hsk(tmp_path, token_cache):
    from xlt.data.sources.hsk import load_hsk

    rows = load_hsk(cache_dir=str(tmp_path / "cache")).splits["test"]
    by_lang: dict[str, dict[str, str]] = {"en": {}, "zh": {}}
    for row in rows:
        by_lang[row["lang"]][str(row["id"])] = row["text"]
    ids = sorted(set(by_lang["en"]) & set(by_lang["zh"]))[:240]
    gold, distract = ids[:120], ids[120:]
    src = write_lines(tmp_path / "src.txt", [by_lang["en"][i] for i in gold])
    tgt = write_lines(tmp_path / "tgt.txt", [by_lang["zh"][i] for i in gold])
    pool_en = write_lines(tmp_path / "pool.en", [by_lang["en"][i] for i in distract[:60]])
    pool_zh = write_lines(tmp_path / "pool.zh", [by_lang["zh"][i] for i in distract[60:]])
    pools = [f"task.pool.source={pool_en}", f"task.pool.target={pool_zh}"]
    metrics, mined = run_bitext(tmp_path, token_cache, f"task.pairs=[{src},{tgt}]", *pools)
    assert metrics["bitext/files/pairs"] == 120 and metrics["bitext/files/pool_source"] == 60
    assert metrics["bitext/files/margin/p1_fwd"] >= 0.9
    assert mined and set(mined[0]) == {"source", "target", "score", "gold"}
    scores = [float(m["score"]) for m in mined]
    assert scores == sorted(scores, reverse=True)
    assert sum(int(m["gold"]) for m in mined) / len(mined) >= 0.8


@pytest.mark.slow
def test_bitext_on_a_corpus_it_was_not_built_for(tmp_path, token_cache):
    """Debian's zh_CN software translations: a TSV of pairs, pools of other messages, mining
    with a threshold; no dataset is read."""
    pairs = message_pairs()
    if len(pairs) < 400 and not os.environ.get("CI"):
        pytest.skip(f"{CATALOGUES} holds {len(pairs)} usable pairs (Debian's locale files)")
    assert len(pairs) >= 400, f"{CATALOGUES}: too few zh_CN catalogues ({len(pairs)} pairs)"
    gold, extra = pairs[:200], pairs[200:400]
    tsv = write_lines(tmp_path / "pairs.tsv", [f"{en}\t{zh}" for en, zh in gold])
    pool_en = write_lines(tmp_path / "pool.en", [en for en, _ in extra[:100]])
    pool_zh = write_lines(tmp_path / "pool.zh", [zh for _, zh in extra[100:]])
    metrics, mined = run_bitext(tmp_path, token_cache, f"task.pairs={tsv}",
                                f"task.pool.source={pool_en}", f"task.pool.target={pool_zh}",
                                "task.mining.threshold=1.0")  # fmt: skip
    assert metrics["bitext/files/margin/p1_fwd"] >= 0.85
    assert metrics["bitext/files/margin/mine/average_precision"] >= 0.8
    assert all(float(m["score"]) >= 1.0 for m in mined)
    assert sum(int(m["gold"]) for m in mined) / len(mined) >= 0.8


def test_pools_alone_are_mined_without_gold(tmp_path):
    src = write_lines(tmp_path / "a.txt", [f"sentence number {i}" for i in range(12)])
    tgt = write_lines(tmp_path / "b.txt", [f"sentence number {i}" for i in range(12)])
    pools = [f"task.pool.source={src}", f"task.pool.target={tgt}"]
    cfg = compose_align(["task=bitext", "model@encoder=tiny_random", *pools,
                         "task.mining.mode=forward"], tmp_path)  # fmt: skip
    metrics = run(cfg)
    assert metrics["bitext/files/pairs"] == 0 and metrics["bitext/files/mined"] == 12
    header = (tmp_path / "run" / "mined_pairs.tsv").read_text().splitlines()[0]
    assert header == "source\ttarget\tscore"  # no gold column without pairs


@pytest.mark.parametrize(
    "case",
    ["pool smaller than k", "one pool", "missing file", "unequal lines", "bad tsv line",
     "not utf-8", "empty pool"],
)  # fmt: skip
def test_bad_bitext_files_fail_in_one_line(tmp_path, case):
    from xlt.align.tasks.bitext import UserFiles

    few = write_lines(tmp_path / "few.txt", ["one", "two", "three"])
    many = write_lines(tmp_path / "many.txt", [f"line {i}" for i in range(10)])
    pairs, pool = {
        "pool smaller than k": (None, {"source": few, "target": many}),
        "one pool": (None, {"source": many}),
        "missing file": (tmp_path / "nope.tsv", None),
        "unequal lines": ([few, many], None),
        "bad tsv line": (write_lines(tmp_path / "p.tsv", ["a b c"]), None),
        "not utf-8": (None, {"source": latin1(tmp_path), "target": many}),
        "empty pool": (None, {"source": write_lines(tmp_path / "e.txt", [""]), "target": many}),
    }[case]
    with pytest.raises(XltError) as err:
        UserFiles.from_config(pairs, pool).check_size(knn=4)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300, str(err.value)


def test_a_bad_pool_stops_xlt_align_before_the_encoder_loads(tmp_path):
    few = write_lines(tmp_path / "few.txt", ["one", "two", "three"])
    cfg = compose_align(["task=bitext", f"task.pool.source={few}", f"task.pool.target={few}"],
                        tmp_path)  # fmt: skip
    with pytest.raises(XltError, match="not more than task.knn=4"):
        run(cfg)


def latin1(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    return path


def test_the_gettext_dictionary_reads_as_a_muse_dictionary(tmp_path):
    """The second dictionary (Debian's one-word messages) in MUSE's format, read back."""
    from xlt.align.dictionary import read_dictionary
    from xlt.align.gettext_corpus import main, word_pairs

    if len(word_pairs()) < 500 and not os.environ.get("CI"):
        pytest.skip(f"{CATALOGUES} holds few one-word messages (Debian's locale files)")
    main(["--dictionary", str(tmp_path / "en-zh.txt")])
    pairs = read_dictionary(tmp_path / "en-zh.txt")
    assert len(pairs) >= 500 and ("file", "文件") in pairs
    assert all(en.isascii() and en.islower() for en, _ in pairs)


def test_bli_runs_meet_published_numbers_in_xlt_report(tmp_path, capsys):
    """`xlt-report --reference` with BLI rows: a BLI run's methods are its settings; a row
    without a value is a template the user fills from the paper."""
    from mlflow import MlflowClient

    from xlt.reporting.cli import main as report

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("xlt-align"), tags={
        "task": "align/bli", "source_lang": "en", "target_lang": "zh",
        "reference_model": "fasttext-wiki", "seed": "0"})  # fmt: skip
    client.log_metric(run.info.run_id, "bli/procrustes/csls/p1", 0.40)
    client.log_metric(run.info.run_id, "bli/adversarial_refine/csls/p1", 0.30)
    client.set_terminated(run.info.run_id)
    refs = tmp_path / "refs.csv"
    template = Path(__file__).parents[1] / "experiments" / "muse" / "references.csv"
    lines = template.read_text().splitlines()
    lines[1] += "42.0"  # the user's number for procrustes en-zh
    refs.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report"
    assert report(["--reference", str(refs), "--tracking-uri", uri, "--out", str(out)]) == 0
    table = pd.read_csv(out / "reference.csv", keep_default_na=False)
    first = table.iloc[0]
    assert (first["measured"], first["published"], first["delta"]) == ("40.0", "42.0", "-2.0")
    adv = table[(table.setting == "adversarial+refine") & (table.language == "en-zh")].iloc[0]
    assert adv["measured"] == "30.0" and adv["published"] == "(add it)"
