"""Mining a translation table from a dataset's TRAIN text (`task.pool.split=train`): what
`augmentation/translator=mined` trains on, a translate-train without a translation system.

The source and target pools are two disjoint halves of the TRAIN items, mined both ways
(source half A against target half B, then B against A): no row's own gold translation is in
the pool it is mined from, so on parallel data (HSK) the table is not the gold table in
disguise. Where the data has gold translations, each mined pair is marked `gold` when its
target is the source row's translation word for word, and the share is logged.
"""

from __future__ import annotations

import random

from xlt.align.bitext import mined_pairs
from xlt.align.tasks.common import parallel_pairs
from xlt.augment.mined_translator import POOL_TAG, TABLE_FILE
from xlt.data.access import Purpose
from xlt.errors import ConfigError


def halves(ids: list[str], seed: int) -> tuple[list[int], list[int]]:
    order = list(range(len(ids)))
    random.Random(seed).shuffle(order)
    return order[: len(order) // 2], order[len(order) // 2 :]


def mine_train_text(data, source: str, target: str, encoder, knn: int, mining: dict, seed: int):
    """Rows of the mined table (source_id, target_id, source, target, score, gold), best
    first; a source row and its target are never the same item."""
    ids, src_texts, tgt_texts = parallel_pairs(data, "train", source, target,
                                               purpose=Purpose.translation)  # fmt: skip
    if len(ids) < 2 * (knn + 1):
        raise ConfigError(f"TRAIN has {len(ids)} {source}-{target} items: too few to mine "
                          f"two pools larger than task.knn={knn}")  # fmt: skip
    src, tgt = encoder.sentences(src_texts), encoder.sentences(tgt_texts)
    rows, (first, second) = [], halves(ids, seed)
    for a, b in ((first, second), (second, first)):
        found = mined_pairs(src[a], tgt[b], mining.get("scoring", "margin"), knn,
                            mining.get("mode", "intersect"))  # fmt: skip
        for i, j, score in found:
            s, t = a[i], b[j]
            gold = int(tgt_texts[t] == tgt_texts[s])  # the row's own translation, word for word
            rows.append({"source_id": ids[s], "target_id": ids[t], "source": src_texts[s],
                         "target": tgt_texts[t], "score": round(score, 6),
                         "gold": gold})  # fmt: skip
    threshold = mining.get("threshold")
    rows = [r for r in rows if threshold is None or r["score"] >= threshold]
    return sorted(rows, key=lambda r: -r["score"])


def run_train_mining(job, data, source: str, targets: list[str], encoder, tracker, knn: int,
                     mining: dict) -> dict[str, float]:  # fmt: skip
    """The mined table for each target language (one TSV; a `lang` column), its size and its
    share of gold translations."""
    tracker.set_tags({POOL_TAG: "train", "mining.source_lang": source})
    rows, metrics = [], {}
    for target in targets:
        mined = mine_train_text(data, source, target, encoder, knn, mining, job.seed)
        rows += [{"lang": target, **r} for r in mined]
        key = f"mining/{source}-{target}"
        metrics[f"{key}/pairs"] = len(mined)
        if mined:
            metrics[f"{key}/gold_share"] = sum(r["gold"] for r in mined) / len(mined)
    tracker.log_metrics(metrics)
    write_table(tracker, rows)
    print(f"{len(rows)} pairs mined from TRAIN text -> {TABLE_FILE}: {metrics}")
    return metrics


def write_table(tracker, rows: list[dict]) -> None:
    from pathlib import Path

    path = Path(tracker.out_dir) / TABLE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["lang", "source_id", "target_id", "source", "target", "score", "gold"]
    with path.open("w", encoding="utf-8") as out:
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(str(row[c]) for c in columns) + "\n")
    tracker.log_file(path)
