import os

from datasets import Dataset

from xlt.data.collate import PadCollator
from xlt.data.tokenize import tokenize
from xlt.models.sources.random_init import byte_level_tokenizer


def test_second_tokenisation_is_read_from_the_cache(tmp_path, monkeypatch):
    tok = byte_level_tokenizer()
    ds = Dataset.from_dict(
        {"id": ["1", "2"], "text": ["hi", "你好"], "label": [0, 1], "lang": ["en", "zh"]}
    )
    first = tokenize(ds, tok, max_length=16, text_prefix="", cache_dir=tmp_path, key=["k"])
    cached = first.cache_files[0]["filename"]
    written = os.stat(cached).st_mtime_ns

    calls: list[int] = []
    original = type(tok).__call__
    monkeypatch.setattr(
        type(tok), "__call__", lambda s, *a, **k: calls.append(1) or original(s, *a, **k)
    )
    second = tokenize(ds, tok, max_length=16, text_prefix="", cache_dir=tmp_path, key=["k"])
    assert calls == []  # nothing was tokenised again
    assert second.cache_files[0]["filename"] == cached and os.stat(cached).st_mtime_ns == written
    assert second["input_ids"] == first["input_ids"]

    other = tokenize(ds, tok, max_length=3, text_prefix="", cache_dir=tmp_path, key=["k"])
    assert calls  # another length limit is another cache entry
    assert max(other["length"]) <= 3


def test_prefix_and_special_tokens_are_applied():
    tok = byte_level_tokenizer()
    ds = Dataset.from_dict({"id": ["1"], "text": ["你好"], "label": [0], "lang": ["zh"]})
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        out = tokenize(ds, tok, max_length=32, text_prefix="q: ", cache_dir=cache, key=["p"])
    ids = out["input_ids"][0]
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert ids[1:-1] == tok("q: 你好", add_special_tokens=False)["input_ids"]


def test_padding_is_dynamic_per_batch():
    collate = PadCollator(pad_id=1)
    batch = collate([{"input_ids": [0, 5, 2], "label": 1}, {"input_ids": [0, 2], "label": 0}])
    assert batch["input_ids"].tolist() == [[0, 5, 2], [0, 2, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [1, 0]


def test_sorted_evaluation_tables_are_cached_beside_the_tokenised_ones(tmp_path):
    from xlt.data.tokenize import sort_by_length

    tok = byte_level_tokenizer()
    ds = Dataset.from_dict({"id": list("abc"), "text": ["long text", "a", "mid"],
                            "label": [0, 1, 0], "lang": ["en"] * 3})  # fmt: skip
    tokens = tokenize(ds, tok, max_length=16, text_prefix="", cache_dir=tmp_path, key=["k"])
    first = sort_by_length(tokens)
    assert first["id"] == ["b", "c", "a"]
    again = sort_by_length(tokenize(ds, tok, max_length=16, text_prefix="", cache_dir=tmp_path,
                                    key=["k"]))  # fmt: skip
    assert again.cache_files[0]["filename"].endswith(".by-length.arrow")  # read, not re-sorted
    assert again["id"] == first["id"] and again["input_ids"] == first["input_ids"]


def test_a_prepared_dataset_reads_back_equal_and_its_word_lists_only_on_use(tmp_path):
    from xlt.data.sources.hsk import load_hsk

    built = load_hsk(cache_dir=str(tmp_path))
    cached = load_hsk(cache_dir=str(tmp_path))
    assert cached.label_names == built.label_names and cached.fingerprint == built.fingerprint
    for split in ("train", "dev", "test"):
        for lang in ("en", "zh"):
            a, b = (
                built.subset(split, lang, purpose="evaluation"),
                cached.subset(split, lang, purpose="evaluation"),
            )
            assert a["id"] == b["id"] and a["text"] == b["text"] and a["label"] == b["label"]
    word_lists = cached.lexicon.source
    assert "content" not in vars(word_lists)  # nothing parsed yet
    assert list(cached.lexicon) == list(built.lexicon)
    assert dict(cached.segmentation) == dict(built.segmentation)
