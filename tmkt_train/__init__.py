"""tmkt-train: Time-step Mixup Knowledge Transfer for spiking networks on SLAYER CUBA blocks."""

__version__ = "0.1.0"
