"""Feature-based baseline: the encoder stays frozen, only the classification head trains.

Every transfer table needs it: it measures how much of the transfer the pretrained
representations give before any fine-tuning.
"""

from xlt.models.network import TransferNetwork
from xlt.strategies.base import TransferStrategy


class LinearProbe(TransferStrategy):
    """Frozen encoder, only the head trains: the feature-based baseline."""

    name = "linear_probe"

    def prepare(self, net: TransferNetwork) -> None:
        net.freeze_encoder()
