"""No augmentation: training sees the source data as it is."""

from datasets import Dataset

from xlt.augment.base import Augmentation, AugmentContext, originals
from xlt.data.dataset_splits import DatasetSplits
from xlt.tasks import ALL_TASKS


class NoAugmentation(Augmentation):
    """Training sees the source rows as they are."""

    name = "none"
    tasks = ALL_TASKS  # every registered task family
    passes_rows_through = True

    def apply(self, train: Dataset, data: DatasetSplits, ctx: AugmentContext) -> Dataset:
        return originals(train)
