"""`trainer.min_train_steps`: a stage on small data gets more epochs, and keeps the number of
validations its `max_epochs` asked for (validating every few epochs), so that stretching a
4-epoch run over 24 short epochs does not evaluate every language 24 times."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class StepBudget:
    """What a training stage on small data is stretched to."""

    min_steps: int = 0  # optimizer steps a stage reaches at least (0: epochs as configured)
    # True: a stretched stage validates as often as max_epochs asked for (every k epochs);
    # False: every epoch, as the user's trainer.check_val_every_n_epoch / val_every_n_steps say.
    keep_validations: bool = True

    def stretch(self, per_epoch: int, max_epochs: int) -> tuple[int, int | None]:
        """(epochs, validate every n epochs; None: as configured) for a stage of `per_epoch`
        optimizer steps that was to train `max_epochs`: epochs reach `min_steps`, rounded up to
        a multiple of the cadence so that the last epoch is validated."""
        epochs = math.ceil(self.min_steps / per_epoch)
        if not self.keep_validations:
            return epochs, None
        every = math.ceil(epochs / max_epochs)
        return every * max_epochs, every


NO_BUDGET = StepBudget()  # epochs as configured
