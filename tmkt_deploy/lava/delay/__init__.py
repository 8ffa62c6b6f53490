"""A fixed d-step spike delay line as a Lava process (Lava-style process.py + models.py)."""

from tmkt_deploy.lava.delay.process import SpikeDelay

__all__ = ["SpikeDelay"]
