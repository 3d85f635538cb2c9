"""Zero-shot transfer: fine-tune on the source language, evaluate on every language."""

from xlt.strategies.base import TransferStrategy


class ZeroShot(TransferStrategy):
    name = "zero_shot"
