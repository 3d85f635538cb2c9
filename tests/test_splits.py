import numpy as np
import pytest

from xlt.data.sources.hsk import load_hsk
from xlt.data.splits import stratified_split


def test_split_is_a_partition_with_every_class_in_every_part():
    labels = np.repeat(np.arange(5), [40, 30, 20, 20, 10])
    parts = stratified_split(labels, [0.7, 0.15, 0.15], seed=0)
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(len(labels)))
    for part, fraction in zip(parts, [0.7, 0.15, 0.15], strict=True):
        assert set(labels[part]) == set(range(5))
        for c in range(5):
            share = np.sum(labels[part] == c) / np.sum(labels == c)
            assert abs(share - fraction) <= 0.06


def test_split_is_deterministic_under_a_seed_and_changes_with_it():
    labels = np.arange(300) % 7
    a = stratified_split(labels, [0.8, 0.1, 0.1], seed=3)
    b = stratified_split(labels, [0.8, 0.1, 0.1], seed=3)
    c = stratified_split(labels, [0.8, 0.1, 0.1], seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])


def test_bad_fractions_are_rejected():
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split([0, 1], [0.5, 0.6], seed=0)


def test_hsk_sentences_never_cross_splits_and_both_languages_share_labels():
    data = load_hsk()
    ids = {split: set(ds["id"]) for split, ds in data.splits.items()}
    assert not ids["train"] & ids["dev"]
    assert not ids["train"] & ids["test"]
    assert not ids["dev"] & ids["test"]
    assert sum(len(v) for v in ids.values()) == 4354
    assert len(data.label_names) == 19
    for ds in data.splits.values():
        by_lang = {}
        for row in ds:
            by_lang.setdefault(row["lang"], {})[row["id"]] = row["label"]
        assert by_lang["en"] == by_lang["zh"]  # the same sentence, the same label, one split


def test_hsk_split_is_reproducible_and_seeded():
    a, b, c = load_hsk(split_seed=0), load_hsk(split_seed=0), load_hsk(split_seed=1)
    assert a.splits["test"]["id"] == b.splits["test"]["id"]
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.splits["test"]["id"] != c.splits["test"]["id"]


def test_hsk_other_label_fields():
    assert len(load_hsk(label_field="sentence_type").label_names) == 3
    assert len(load_hsk(label_field="hsk_level").label_names) == 6
