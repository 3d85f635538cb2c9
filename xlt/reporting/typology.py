"""Which languages transfer worse, and whether distance explains it (as Lauscher et al. 2020 did
for XTREME): each target's transfer gap beside its typological distances from the source, from
URIEL through lang2vec, with a rank correlation and its bootstrap interval per distance.

lang2vec 1.1.2 (the release on PyPI) has the feature vectors but not the precomputed distances
of later releases: a distance here is the cosine distance between two languages' vectors
(syntax, phonology and inventory: the k-NN predicted URIEL features; genetic: family
membership; geographic: the geo-coordinate features)."""

from __future__ import annotations

import importlib
import sys
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = {"syntactic": "syntax_knn", "phonological": "phonology_knn",
            "inventory": "inventory_knn", "genetic": "fam", "geographic": "geo"}  # fmt: skip
MIN_LANGUAGES = 4  # a rank correlation over fewer targets says nothing


def import_lang2vec():
    """lang2vec's module, not its namesake script: lang2vec also installs `lang2vec.py` into the
    environment's bin folder, which a console script (`.venv/bin/xlt-report`) has first on
    sys.path, and which then shadows the package."""
    scripts = Path(sys.executable).parent.resolve()  # the venv's bin (not the interpreter's)
    if not hasattr(sys.modules.get("lang2vec"), "__path__"):
        sys.modules.pop("lang2vec", None)  # the script, imported as a module
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != scripts]
    try:
        return importlib.import_module("lang2vec.lang2vec")
    finally:
        sys.path[:] = saved


@cache
def uriel_vectors(langs: tuple[str, ...], features: str) -> dict[str, np.ndarray]:
    """URIEL vectors of the languages it knows (ISO 639-1 or -3 codes), one database read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources' deprecation, inside lang2vec
        l2v = import_lang2vec()
        known = [lang for lang in langs if lang in l2v.LETTER_CODES or len(lang) == 3]
        try:
            found = l2v.get_features(known, features)
        except Exception:  # lang2vec raises a bare Exception naming one unknown language
            if len(known) == 1:
                return {}
            return {k: v for lang in known for k, v in uriel_vectors((lang,), features).items()}
    return {lang: np.asarray(found[lang], float) for lang in known}


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def distances(source: str, targets: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """(target x distance kind, the targets URIEL does not know: listed, never dropped
    silently)."""
    vectors = {kind: uriel_vectors((source, *targets), f) for kind, f in FEATURES.items()}
    rows, unknown = {}, []
    for target in targets:
        if any(lang not in v for v in vectors.values() for lang in (source, target)):
            unknown.append(target)
            continue
        rows[target] = {kind: cosine_distance(v[source], v[target])
                        for kind, v in vectors.items()}  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index"), unknown


def transfer_gaps(summary: pd.DataFrame, metric: str, source: str) -> pd.Series:
    """Per target language: source score minus target score, averaged over the configurations
    of `summary` (one protocol's)."""
    langs = [c.removeprefix(f"{metric} ") for c in summary.columns
             if c.startswith(f"{metric} ") and not c.endswith((" low", " high"))]  # fmt: skip
    targets = [lang for lang in langs if lang not in (source, "avg_target")]
    gaps = {t: float((summary[f"{metric} {source}"] - summary[f"{metric} {t}"]).mean())
            for t in targets}  # fmt: skip
    return pd.Series(gaps, name="transfer gap")


def rank_correlation(gaps: np.ndarray, distance: np.ndarray) -> tuple[float, float, float]:
    """Spearman's rho with a 95% percentile bootstrap interval over the languages (resamples
    whose rho is undefined, e.g. all ties, are left out)."""
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant resamples: rho undefined, counted out
        estimate = stats.spearmanr(gaps, distance).statistic
        rng = np.random.default_rng(0)
        draws = [rng.integers(len(gaps), size=len(gaps)) for _ in range(2000)]
        rhos = np.array([stats.spearmanr(gaps[i], distance[i]).statistic for i in draws])
    rhos = rhos[~np.isnan(rhos)]
    if np.isnan(estimate) or not len(rhos):
        return float("nan"), float("nan"), float("nan")
    low, high = np.percentile(rhos, [2.5, 97.5])
    return float(estimate), float(low), float(high)


def typology_table(summary: pd.DataFrame, metric: str, source: str) -> tuple[str, pd.DataFrame]:
    """Markdown and table, one section per protocol (protocols are never averaged together):
    each target's gap over that protocol's configurations, its distances, the correlations."""
    texts, tables = [], []
    for protocol, rows in summary.groupby("protocol", sort=True):
        text, table = protocol_typology(rows, metric, source, str(protocol))
        texts.append(text)
        tables.append(table.assign(protocol=protocol))
    return "\n".join(texts), pd.concat(tables)


def protocol_typology(
    rows: pd.DataFrame, metric: str, source: str, protocol: str
) -> tuple[str, pd.DataFrame]:
    """One protocol's typology section (the table, the correlations, languages left out)."""
    gaps = transfer_gaps(rows, metric, source)
    found, unknown = distances(source, list(gaps.index))
    table = pd.concat([gaps, found], axis=1, join="inner").round(4)
    table.index.name = "target"
    text = (f"## {protocol}\n\nTransfer gap ({metric}, {source} minus target, mean over "
            f"{len(rows)} configuration(s)) and URIEL distances from {source}\n\n")  # fmt: skip
    text += table.to_markdown(floatfmt=".4f") + "\n\n"
    if unknown:
        text += f"Not in URIEL (left out of the correlations): {', '.join(unknown)}.\n\n"
    if len(table) < MIN_LANGUAGES:
        return text + f"Rank correlations need {MIN_LANGUAGES}+ targets known to URIEL.\n", table
    text += "Spearman rank correlation of the gap with each distance [95% bootstrap interval]:\n\n"
    for kind in FEATURES:
        rho, low, high = rank_correlation(table["transfer gap"].to_numpy(), table[kind].to_numpy())
        text += f"- {kind}: {rho:.2f} [{low:.2f}, {high:.2f}]\n"
    return text, table
