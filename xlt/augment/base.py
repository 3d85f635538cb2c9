"""An augmentation turns the raw (untokenised) training rows into the rows training sees.

It receives the training split only: target TEST text never reaches it.
"""

from __future__ import annotations

from datasets import Dataset

from xlt.data.transfer_data import TransferData


class Augmentation:
    name = "base"

    def apply(self, train: Dataset, data: TransferData) -> Dataset:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """Identifies the output for a given input, so tokenised results can be cached."""
        return self.name
