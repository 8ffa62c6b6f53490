"""`FastCuba`: lava-dl's CUBA neuron, its forward replaced by our fused scan (same spikes, same surrogate).

It subclasses `slayer.neuron.cuba.Neuron` and shares the original's parameters and buffers, so blocks, state
dicts, `device_params` and HDF5 export are unchanged; only the forward pass is ours.
"""

from __future__ import annotations

import numpy as np
import torch
from lava.lib.dl.slayer.neuron import cuba

from .constants import CubaConstants
from .scan import CubaScan, Layout


class FastCuba(cuba.Neuron):
    """Drop-in CUBA neuron; build it with `FastCuba.from_slayer(neuron)`.

    On CPU and CUDA alike it computes SLAYER's CPU reference (Loihi's `v > threshold` spike and reset).
    SLAYER's own CUDA kernel casts `(threshold + eps) * s_scale` to int, so at `v == threshold` exactly it
    resets without spiking; those rare steps are where it and we differ on a GPU.
    """

    constants: CubaConstants

    @classmethod
    def from_slayer(cls, neuron: cuba.Neuron, name: str = "neuron") -> FastCuba:
        """A fast neuron sharing `neuron`'s parameters, buffers and settings (`name` labels errors)."""
        constants = CubaConstants.from_neuron(neuron, name)
        fast = cls.__new__(cls)
        fast.__dict__.update(neuron.__dict__)  # the same parameter/buffer dicts: nothing is copied
        fast.constants = constants
        return fast

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Spikes for a SLAYER-layout input `(N, ..., T)`, as `cuba.Neuron.forward` computes them."""
        if self.shape is None:
            self.shape = input.shape[1:-1]
            self.num_neurons = int(np.prod(self.shape))
        elif input.shape[1:-1] != self.shape:
            shapes = f"{tuple(input.shape)} vs neuron shape {tuple(self.shape)}"
            raise ValueError(f"input shape does not match the neuron: {shapes}")
        return CubaScan.apply(input, self.constants, Layout(), False, torch.float32)


def use_fast_neurons(module: torch.nn.Module) -> int:
    """Replace every SLAYER CUBA neuron inside `module` with a `FastCuba` in place; returns how many."""
    targets = [
        (parent, child_name, child)
        for parent in module.modules()
        for child_name, child in parent.named_children()
        if isinstance(child, cuba.Neuron) and not isinstance(child, FastCuba)
    ]
    for parent, child_name, child in targets:
        setattr(parent, child_name, FastCuba.from_slayer(child, f"{type(parent).__name__}.{child_name}"))
    return len(targets)
