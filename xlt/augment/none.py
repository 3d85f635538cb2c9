"""No augmentation: training sees the source data as it is."""

from datasets import Dataset

from xlt.augment.base import Augmentation, AugmentContext, originals
from xlt.data.transfer_data import TransferData


class NoAugmentation(Augmentation):
    """Training sees the source rows as they are."""

    name = "none"
    tasks = ("classification", "pair_classification", "tagging", "qa")

    def apply(self, train: Dataset, data: TransferData, ctx: AugmentContext) -> Dataset:
        return originals(train)
