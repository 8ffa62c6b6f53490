"""tmkt-train: Time-step Mixup Knowledge Transfer for spiking networks on SLAYER CUBA blocks."""

from tmkt_common.slayer_import import defer_slayer_detection

defer_slayer_detection()  # SLAYER without torchvision / torch._dynamo at start-up

__version__ = "0.1.0"
