"""Batched Loihi 2 fixed-point emulator: runs the integer IR bit-exactly like Lava's fixed_pt process models.

`emulate(net, inputs)` is the entry point; `total_steps(net, T)` is how many steps a sample runs
(T + latency). Lava (`Loihi2SimCfg(select_tag="fixed_pt")`) stays the ground truth; the tests compare the
two spike for spike.
"""

from ..loihi_params import LifParams, lif_params
from .engine import EmulatorResult, WindowRunner, emulate, total_steps

__all__ = ["EmulatorResult", "LifParams", "WindowRunner", "emulate", "lif_params", "total_steps"]
