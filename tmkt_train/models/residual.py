"""`ResidualCuba`: several convolution synapses summed into one CUBA neuron population.

SLAYER has no residual block that keeps the sum *before* the neuron (what a Loihi compartment does with
several input axons), so this is ours. Every branch is a `slayer.synapse.Conv` whose weights go through the
neuron's `quantize_8bit`; an identity shortcut is a frozen 1x1 depthwise conv, so deploy sees only synapses.
"""

from __future__ import annotations

import torch

from ..lavadl import neuron as slayer_neuron
from ..lavadl import synapse as slayer_synapse
from .neuron import fire


def identity_synapse(channels: int, weight: float) -> slayer_synapse.Conv:
    """A 1x1 depthwise conv with every weight = `weight`, not trained: the identity shortcut as a synapse."""
    syn = slayer_synapse.Conv(channels, channels, 1, groups=channels)
    with torch.no_grad():
        syn.weight.fill_(weight)
    syn.weight.requires_grad_(False)
    return syn


class ResidualCuba(torch.nn.Module):
    """Sum of `synapses[i](inputs[i])` into one CUBA neuron; inputs come in the order of the graph edges."""

    def __init__(self, neuron_params: dict, synapses: list[slayer_synapse.Conv]):
        super().__init__()
        self.neuron = slayer_neuron.cuba.Neuron(**neuron_params)
        self.synapses = torch.nn.ModuleList(synapses)
        for syn in self.synapses:
            syn.pre_hook_fx = self.neuron.quantize_8bit

    def forward(self, inputs: list[torch.Tensor], delayed: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        if len(inputs) != len(self.synapses):
            raise ValueError(f"ResidualCuba has {len(self.synapses)} synapses but got {len(inputs)} inputs")
        current = sum(syn(x) for syn, x in zip(self.synapses, inputs, strict=True))
        return fire(self.neuron, current, delayed)
