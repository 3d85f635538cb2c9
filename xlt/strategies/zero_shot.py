"""Zero-shot transfer: fine-tune on the source language, evaluate on every language."""

from xlt.strategies.base import TransferStrategy


class ZeroShot(TransferStrategy):
    """Fine-tune everything on the source language; evaluate every language."""

    name = "zero_shot"
