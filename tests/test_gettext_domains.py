"""The second labelled dataset (which program a message comes from, Debian's zh_CN gettext
catalogues): split by message, both languages per item, balanced, its own word list."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from xlt.data.sources.gettext_catalogues import CATALOGUES
from xlt.data.sources.gettext_domains import load_gettext_domains
from xlt.errors import DataError


def small_dataset():
    """4 programs x 60 messages; outside CI a machine without enough zh_CN catalogues skips
    (in CI, where .ci/run installs the packages, it fails)."""
    try:
        return load_gettext_domains(domains=4, per_domain=60)
    except DataError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{CATALOGUES}: {err}")


def test_messages_are_split_by_item_with_both_languages_and_balanced_labels():
    data = small_dataset()
    assert len(data.label_names) == 4
    ids = {}
    for split, rows in data.splits.items():
        by_lang = {lang: [i for i, x in zip(rows["id"], rows["lang"], strict=True) if x == lang]
                   for lang in ("en", "zh")}  # fmt: skip
        assert by_lang["en"] == by_lang["zh"]  # every message in both languages
        ids[split] = set(by_lang["en"])
    assert not (ids["train"] & ids["dev"]) and not (ids["train"] & ids["test"])
    assert not (ids["dev"] & ids["test"])
    train = data.splits["train"]
    counts = Counter(label for label, lang in zip(train["label"], train["lang"], strict=True)
                     if lang == "en")  # fmt: skip
    assert set(counts.values()) == {42}  # 70% of 60 per program
    english = {t for t, x in zip(train["text"], train["lang"], strict=True) if x == "en"}
    assert all(not any("\u4e00" <= c <= "\u9fff" for c in text) for text in english)
    assert data.lexicon and all(lang == "zh" for _, lang, _, _ in data.lexicon)


def test_asking_for_more_than_the_catalogues_hold_says_how_many_there_are():
    small_dataset()  # the catalogues are there at all
    with pytest.raises(DataError, match="catalogues with 100000\\+ sentences"):
        load_gettext_domains(per_domain=100000)
