"""Chip energy of a forward pass, differentiable in its spikes: the training side of the energy model.

Synaptic ops are spikes x the exact structural fan-out of each neuron (`tmkt_common.energy_model.fanout`,
the function the deploy report counts with), plus one routed message per spike per consuming synapse, plus
neuron updates (every neuron every step at the idle cost, a spike adding active minus idle), priced by a
`hw_profiles` profile exactly as `tmkt_deploy.energy.estimate` prices them (static power at one chip).

Timing: training runs the delay-free T steps (`SpikingNet.forward`), which are exactly each layer's first T
chip-timed steps, i.e. the deploy report's `streaming` schedule. The report's `isolated` schedule adds each
layer's latency-tail steps (T + latency per sample, with whatever the tail still fires), so it is higher by
those steps' idle updates and tail spikes; the number training sees is the streaming one.
"""

from __future__ import annotations

import numpy as np
import torch

from tmkt_common.energy_model import Connection, Profile, fanout, load_profile
from tmkt_common.graph import pair

from ..lavadl import block
from ..lavadl import synapse as slayer_synapse
from .graph import INPUT, SpikingNet, node_synapses

UJ = 1e6  # joules → microjoules


def connection(syn: torch.nn.Module, source_shape: tuple[int, ...],
               target_shape: tuple[int, ...]) -> Connection:
    """A SLAYER synapse's geometry as the IR expresses it (pool = depthwise conv, stride = kernel)."""
    if isinstance(syn, slayer_synapse.Dense):
        return Connection("dense", source_shape, target_shape)
    if isinstance(syn, slayer_synapse.Pool):
        kernel = pair(syn.kernel_size)
        return Connection("conv", source_shape, target_shape, kernel=kernel, stride=kernel,
                          groups=source_shape[0])
    return Connection("conv", source_shape, target_shape, kernel=pair(syn.weight.shape[2:4]),
                      stride=pair(syn.stride), padding=pair(syn.padding), dilation=pair(syn.dilation),
                      groups=int(syn.groups))


def fanout_maps(model: SpikingNet) -> tuple[dict[str, np.ndarray], dict[str, int], dict[str, tuple]]:
    """Per source (the input and every neuron layer): the summed fan-out of each of its neurons over all
    consuming synapses, how many synapses consume it, and its per-sample shape. Flatten nodes are looked
    through (their consumers read the flatten's source, as in the IR)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        layers = model(torch.zeros(1, *model.input_shape, 1, device=device)).layers
    shapes = {name: tuple(value.shape[1:-1]) for name, value in layers.items()}
    alias = {}
    fans = {name: np.zeros(shapes[name], np.int64) for name in (INPUT, *model.neuron_layers)}
    consumers = dict.fromkeys(fans, 0)
    for name, sources in model.graph:
        node = model.nodes[name]
        if isinstance(node, block.cuba.Flatten):
            alias[name] = alias.get(sources[0], sources[0])
            continue
        for syn, source in zip(node_synapses(node), sources, strict=True):
            source = alias.get(source, source)
            fans[source] += fanout(connection(syn, shapes[source], shapes[name]))
            consumers[source] += 1
    return fans, consumers, {name: shapes[name] for name in fans}


class EnergyMeter:
    """Energy per sample (µJ) and synaptic ops of a forward pass's spikes (`NetOutput.layers`) on `profile`.

    Differentiable: spikes of the fast (CUDA) and SLAYER (CPU) paths carry their surrogate gradients."""

    def __init__(self, model: SpikingNet, profile: Profile | str):
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        if self.profile.model != "neuromorphic":
            raise ValueError(f"energy profile {self.profile.name!r} is an {self.profile.model} profile; the "
                             "energy term prices a neuromorphic chip")
        p = self.profile.si
        self.fans, self.consumers, self.shapes = fanout_maps(model)
        self.neurons = {name: int(np.prod(shape)) for name, shape in self.shapes.items() if name != INPUT}
        message = p("spike_energy_within_tile") + p("mean_hops") * p("hop_energy")
        extra_active = p("neuron_update_energy_active") - p("neuron_update_energy_inactive")
        self.joules = {name: fan * p("synaptic_op_energy") + self.consumers[name] * message
                       + (0.0 if name == INPUT else extra_active) for name, fan in self.fans.items()}
        self.per_step = sum(self.neurons.values()) * p("neuron_update_energy_inactive") \
            + p("static_energy_per_chip_step")
        self._cache: dict[tuple, torch.Tensor] = {}

    def _map(self, kind: str, name: str, device: torch.device) -> torch.Tensor:
        key = (kind, name, device)
        if key not in self._cache:
            source = self.fans[name] if kind == "fan" else self.joules[name]
            self._cache[key] = torch.as_tensor(source, dtype=torch.float32, device=device)
        return self._cache[key]

    @staticmethod
    def per_neuron(layers: dict[str, torch.Tensor], name: str, part: slice) -> torch.Tensor:
        """Spikes (input: events) of each neuron summed over the batch part and its steps (float32)."""
        value = layers[name][part]
        if name == INPUT:
            value = (value != 0).to(torch.float32)
        return value.sum(dim=(0, -1), dtype=torch.float32)

    def _weighted(self, kind: str, layers: dict[str, torch.Tensor], part: slice) -> torch.Tensor:
        total = None
        for name in self.fans:
            counts = self.per_neuron(layers, name, part)
            term = (counts * self._map(kind, name, counts.device)).sum()
            total = term if total is None else total + term
        return total

    def synops(self, layers: dict[str, torch.Tensor], part: slice = slice(None)) -> torch.Tensor:
        """Synaptic ops per sample of the batch part (the report's `streaming` synops)."""
        return self._weighted("fan", layers, part) / len(layers[INPUT][part])

    def energy_uj(self, layers: dict[str, torch.Tensor], part: slice = slice(None)) -> torch.Tensor:
        """Chip energy per sample (µJ) of the batch part: the report's `streaming` energy on this profile."""
        n, steps = len(layers[INPUT][part]), layers[INPUT].shape[-1]
        return (self._weighted("joules", layers, part) / n + steps * self.per_step) * UJ

    def rates(self, layers: dict[str, torch.Tensor], part: slice = slice(None)) -> dict[str, torch.Tensor]:
        """Firing rate (spikes per neuron per step) of every neuron layer over the batch part."""
        n, steps = len(layers[INPUT][part]), layers[INPUT].shape[-1]
        return {name: self.per_neuron(layers, name, part).sum() / (n * steps * count)
                for name, count in self.neurons.items()}
