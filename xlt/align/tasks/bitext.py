"""Parallel sentence retrieval (P@1 both ways, xsim error) and bitext mining from pools with
unpaired distractors, scored by cosine, CSLS and ratio margin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from xlt.align.bitext import mine, mined_pairs, retrieval_accuracy
from xlt.align.job import AlignJob
from xlt.align.tasks.common import markdown, parallel_pairs, text_encoder
from xlt.align.tasks.train_mining import run_train_mining
from xlt.config.instantiate import instantiate_spec
from xlt.config.validate import resolve_languages
from xlt.data.access import Purpose
from xlt.data.text_files import read_pairs, read_sentences
from xlt.errors import ConfigError, DataError

SCORINGS = ("cosine", "csls", "margin")


def distractor_pools(
    data, split: str, source: str, target: str, limit: int | None
) -> tuple[list[str], list[str]]:
    """Unpaired sentences: source texts of one half of `split`, target texts of the other."""
    ids, src, tgt = parallel_pairs(data, split, source, target, purpose=Purpose.evaluation,
                                   limit=limit)  # fmt: skip
    half = len(ids) // 2
    return src[:half], tgt[half:]


def run(
    job: AlignJob,
    tracker,
    split: str = "test",
    distractor_split: str = "dev",
    scorings: list[str] = SCORINGS,
    knn: int = 4,
    weights: str | None = None,
    name: str = "bitext",
    pairs=None,
    pool: dict | None = None,
    mining: dict | None = None,
) -> dict[str, float]:
    """Retrieval and mining on the dataset's pairs, on the user's files, or (pool.split=train)
    a translation table mined from the dataset's TRAIN text."""
    pool, mining = dict(pool or {}), dict(mining or {})
    pool_split = pool.pop("split", None)
    if pool_split not in (None, "train"):
        raise ConfigError(f"task.pool.split={pool_split}: a mining pool may only hold TRAIN "
                          "text (dev and test are for evaluation)")  # fmt: skip
    files = UserFiles.from_config(pairs, pool)  # bad files fail before the encoder loads
    if files is not None:
        files.check_size(knn)
    encoder = text_encoder(job.encoder, "encoder", weights, tracker.client)
    if files is not None:
        return run_on_files(files, encoder, tracker, scorings, knn, mining)
    data = instantiate_spec(job.dataset.loader, "dataset.loader")
    source, targets = resolve_languages(job.dataset, data)
    if pool_split == "train":
        return run_train_mining(job, data, source, targets, encoder, tracker, knn, mining)
    return run_on_dataset(job, data, source, targets, encoder, tracker,
                          (split, distractor_split), scorings, knn)  # fmt: skip


def run_on_dataset(job, data, source, targets, encoder, tracker, splits, scorings, knn):
    """The dataset's `split` pairs: retrieval, and mining among `distractor_split` sentences."""
    split, distractor_split = splits
    rows, metrics = [], {}
    for target in targets:
        _, src_texts, tgt_texts = parallel_pairs(data, split, source, target,
                                                 purpose=Purpose.evaluation,
                                                 limit=job.dataset.limit)  # fmt: skip
        extra_src, extra_tgt = distractor_pools(data, distractor_split, source, target,
                                                job.dataset.limit)  # fmt: skip
        src = encoder.sentences(src_texts + extra_src)
        tgt = encoder.sentences(tgt_texts + extra_tgt)
        n = len(src_texts)
        gold = {i: i for i in range(n)}
        for scoring in scorings:
            scores = retrieval_accuracy(src[:n], tgt[:n], scoring, knn)
            scores |= {f"mine/{k}": v for k, v in mine(src, tgt, gold, scoring, knn).items()}
            rows.append({"pair": f"{source}-{target}", "scoring": scoring, **scores})
            metrics |= {f"bitext/{source}-{target}/{scoring}/{k}": v for k, v in scores.items()}
        tracker.log_metrics({f"bitext/{source}-{target}/pairs": n,
                             f"bitext/{source}-{target}/distractors": len(extra_src)})  # fmt: skip
    if len(targets) > 1:  # XTREME's retrieval column: the mean over the target languages
        averaged = average_rows(rows, source)
        rows += averaged
        metrics |= {f"bitext/{source}-avg/{r['scoring']}/{k}": v for r in averaged
                    for k, v in r.items() if k not in ("pair", "scoring")}  # fmt: skip
    tracker.log_metrics(metrics)
    tracker.log_table("bitext.csv", rows)
    table = markdown(rows)
    tracker.log_text("bitext.md", table + "\n")
    print(f"\nBitext retrieval on {split} pairs, mining with {distractor_split} distractors\n"
          f"{table}")  # fmt: skip
    return metrics


def average_rows(rows: list[dict], source: str) -> list[dict]:
    """Per scoring, each score's mean over the language pairs (pair `<source>-avg`)."""
    out = []
    for scoring in dict.fromkeys(r["scoring"] for r in rows):
        same = [r for r in rows if r["scoring"] == scoring]
        keys = [k for k in same[0] if k not in ("pair", "scoring")]
        out.append({"pair": f"{source}-avg", "scoring": scoring,
                    **{k: sum(r[k] for r in same) / len(same) for k in keys}})  # fmt: skip
    return out


@dataclass
class UserFiles:
    """task.pairs (aligned: gold) and task.pool.source/target (unaligned: what to mine)."""

    source: list[str]  # gold source sentences first, then the source pool
    target: list[str]
    n_gold: int  # the first n_gold sentences of each side translate each other

    @classmethod
    def from_config(cls, pairs, pool: dict | None) -> UserFiles | None:
        pool = {k: v for k, v in (pool or {}).items() if v}
        if not pairs and not pool:
            return None
        if pool and set(pool) != {"source", "target"}:
            raise ConfigError("mining needs both task.pool.source=PATH and task.pool.target=PATH")
        src, tgt = read_pairs(pairs) if pairs else ([], [])
        n_gold = len(src)
        if pool:
            src += read_sentences(pool["source"], "task.pool.source")
            tgt += read_sentences(pool["target"], "task.pool.target")
        return cls(src, tgt, n_gold)

    def check_size(self, knn: int) -> None:
        smaller = min(len(self.source), len(self.target))
        if smaller <= knn:
            raise DataError(f"the sentence pools hold {len(self.source)} source and "
                            f"{len(self.target)} target sentences, not more than task.knn={knn} "
                            "neighbours: give larger pools or a smaller task.knn")  # fmt: skip


def run_on_files(files: UserFiles, encoder, tracker, scorings, knn: int, mining: dict) -> dict:
    """Retrieval on the user's aligned pairs (if any), and mining over pairs plus pools: the
    mined pairs with their scores as `mined_pairs.tsv`."""
    src, tgt, n = encoder.sentences(files.source), encoder.sentences(files.target), files.n_gold
    rows, metrics = [], {"bitext/files/pairs": n, "bitext/files/pool_source": len(src) - n,
                         "bitext/files/pool_target": len(tgt) - n}  # fmt: skip
    for scoring in scorings if n else []:
        scores = retrieval_accuracy(src[:n], tgt[:n], scoring, knn)
        if len(src) > n or len(tgt) > n:  # gold pairs hidden among distractors
            gold = {i: i for i in range(n)}
            scores |= {f"mine/{k}": v for k, v in mine(src, tgt, gold, scoring, knn).items()}
        rows.append({"pair": "files", "scoring": scoring, **scores})
        metrics |= {f"bitext/files/{scoring}/{k}": v for k, v in scores.items()}
    mined = write_mined(files, src, tgt, knn, mining, tracker)
    metrics["bitext/files/mined"] = mined
    tracker.log_metrics(metrics)
    if rows:
        tracker.log_table("bitext.csv", rows)
        print(f"\nBitext retrieval on the pairs file\n{markdown(rows)}")
    print(f"{mined} mined pairs -> mined_pairs.tsv (MLflow artifact)")
    return metrics


def write_mined(files: UserFiles, src, tgt, knn: int, mining: dict, tracker) -> int:
    """Mined pairs above `mining.threshold`, best first, as a TSV artifact (with a `gold` column
    when the user's pairs are among the pools)."""
    threshold = mining.get("threshold")
    found = mined_pairs(src, tgt, mining.get("scoring", "margin"), knn,
                        mining.get("mode", "intersect"))  # fmt: skip
    kept = [(i, j, s) for i, j, s in found if threshold is None or s >= threshold]
    out = Path(tracker.out_dir) / "mined_pairs.tsv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        handle.write("source\ttarget\tscore" + ("\tgold\n" if files.n_gold else "\n"))
        for i, j, score in kept:
            gold = f"\t{int(i == j and i < files.n_gold)}" if files.n_gold else ""
            handle.write(f"{files.source[i]}\t{files.target[j]}\t{score:.6f}{gold}\n")
    tracker.log_file(out)
    return len(kept)


def pair_embeddings(encoder, data, split, source, target, layers=None, limit=None):
    _, src_texts, tgt_texts = parallel_pairs(data, split, source, target,
                                             purpose=Purpose.evaluation, limit=limit)  # fmt: skip
    return encoder.sentences(src_texts, layers), encoder.sentences(tgt_texts, layers)


def layer_accuracy(src: torch.Tensor, tgt: torch.Tensor, scoring: str = "cosine") -> list[float]:
    """P@1 (mean of both directions) per layer from [layers, n, dim] embeddings."""
    return [
        1 - retrieval_accuracy(s, t, scoring)["xsim_error"] for s, t in zip(src, tgt, strict=True)
    ]
