"""What the alignment tasks share: encoders from model configs, parallel sentence pairs."""

from __future__ import annotations

from xlt.align.embed import TextEncoder
from xlt.config.instantiate import instantiate_spec
from xlt.config.schema import ModelConfig
from xlt.data.access import Purpose
from xlt.data.dataset_splits import DatasetSplits
from xlt.models.init_encoder import load_encoder_weights, model_source, resolve
from xlt.models.network import encoder_architecture


def text_encoder(model: ModelConfig, key: str, weights: str | None = None, client=None):
    """A TextEncoder for a conf/model config (`key` names it in errors), optionally with other
    weights loaded."""

    bundle = instantiate_spec(model.source, f"{key}.source")
    if weights:
        expected = encoder_architecture(bundle.encoder, model_source(model))
        load_encoder_weights(bundle.encoder, resolve(str(weights), client), expected)
    return TextEncoder(
        bundle,
        prefix=model.text_prefix,
        max_length=model.max_length,
        pooling=model.pooling,
    )


def parallel_pairs(
    data: DatasetSplits,
    split: str,
    source: str,
    target: str,
    *,
    purpose: Purpose,
    limit: int | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """(ids, source texts, target texts) of the sentences `split` has in both languages, from
    the first `limit` rows per language (dataset.limit), recorded as read for `purpose`."""
    by_lang: dict[str, dict[str, str]] = {}
    for lang in (source, target):
        rows = data.subset(split, lang, limit, purpose=purpose, labelled=False,
                           detail="xlt-align parallel sentences")  # fmt: skip
        by_lang[lang] = dict(zip(map(str, rows["id"]), rows["text"], strict=True))
    ids = sorted(set(by_lang[source]) & set(by_lang[target]))
    return ids, [by_lang[source][i] for i in ids], [by_lang[target][i] for i in ids]


def markdown(rows: list[dict]) -> str:
    import pandas as pd

    return pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4f")
