"""Work of one inference from the IR and recorded spike counts: synaptic ops, neuron updates, spikes.

Our own code because no library counts event-driven work on a graph-shaped integer network: the usual SNN
"SOP" counters multiply spikes by a layer's mean fan-out and ignore convolution borders. Here a source
neuron's fan-out is exact for its position: a conv synapse connects an input pixel only to the outputs whose
receptive field covers it (padding, stride and dilation make border pixels reach fewer outputs), and only to
the `C_out / groups` output channels of its group; a dense synapse connects every input to every output.

Definitions (per inference, i.e. per sample, averaged over samples):
- spikes[name]: spikes emitted by layer `name` summed over neurons and time; for `"input"` the number of
  (graded) input events, not their payload sum. A float uses the layer's mean fan-out, which is exact when
  spikes are spread evenly; an array shaped like the layer gives the exact per-neuron sum.
- synaptic ops into a layer = sum over its synapses of sum_i spikes_i x fanout_i (structural connections,
  zero weights included: the chip still walks them);
- spikes routed = one message per spike per consuming synapse (multicast to the layer's cores counted once);
- neuron updates = neurons x steps, steps = T + network latency (every neuron is updated every step);
  active updates = spikes (a neuron that fires did work that step);
- MACs / ACs of the ANN equivalent (one dense pass): structural connections of learned (`weight`) synapses are
  MACs, those of sum-pool and identity synapses are accumulates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tmkt_deploy.ir import INPUT, Network, Synapse

SpikeCounts = Mapping[str, "float | np.ndarray"]


def _axis_reach(size_in: int, size_out: int, kernel: int, stride: int, pad: int, dilation: int) -> np.ndarray:
    """For each input index along one axis, how many output indices (kernel taps) read it."""
    reach = np.zeros(size_in, dtype=np.int64)
    pos = np.arange(size_in)
    for k in range(kernel):
        offset = pos + pad - k * dilation  # = out_index * stride when input `pos` is tap k of that output
        out = offset // stride
        reach += (offset % stride == 0) & (out >= 0) & (out < size_out)
    return reach


def fanout(syn: Synapse, source_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> np.ndarray:
    """Number of target neurons each source neuron of `syn` reaches, shaped like the source layer.

    The shapes must fit the weights (what `Network.validate` checks)."""
    if syn.kind == "dense":
        return np.full(source_shape, int(np.prod(target_shape)), dtype=np.int64)
    c_out, _, kh, kw = syn.weight.shape
    (c_in, h, w), (_, h_out, w_out) = source_shape, target_shape
    rows = _axis_reach(h, h_out, kh, syn.stride[0], syn.padding[0], syn.dilation[0])
    cols = _axis_reach(w, w_out, kw, syn.stride[1], syn.padding[1], syn.dilation[1])
    per_channel = (c_out // syn.groups) * np.outer(rows, cols)
    return np.broadcast_to(per_channel, (c_in, h, w)).copy()


@dataclass(frozen=True)
class LayerActivity:
    """Per-sample work attributed to one layer (synaptic ops happen in the layer that receives them)."""

    name: str
    neurons: int
    spikes: float
    synapses: int
    synops: float
    spikes_in: float
    macs: int
    acs: int


@dataclass(frozen=True)
class Activity:
    """Per-sample work of a whole network run for `steps` time steps."""

    layers: list[LayerActivity]
    input_spikes: float
    steps: int

    @property
    def synops(self) -> float:
        return sum(lay.synops for lay in self.layers)

    @property
    def spikes(self) -> float:
        return sum(lay.spikes for lay in self.layers)

    @property
    def spikes_routed(self) -> float:
        return sum(lay.spikes_in for lay in self.layers)

    @property
    def neurons(self) -> int:
        return sum(lay.neurons for lay in self.layers)

    @property
    def neuron_updates(self) -> int:
        return self.neurons * self.steps

    @property
    def synapses(self) -> int:
        return sum(lay.synapses for lay in self.layers)

    @property
    def macs(self) -> int:
        return sum(lay.macs for lay in self.layers)

    @property
    def acs(self) -> int:
        return sum(lay.acs for lay in self.layers)


def _spikes_of(spikes: SpikeCounts, name: str, shape: tuple[int, ...]) -> float | np.ndarray:
    if name not in spikes:
        raise KeyError(f"no spike count for {name!r} (need 'input' and every IR layer)")
    value = spikes[name]
    if np.ndim(value) == 0:
        if float(value) < 0:
            raise ValueError(f"spike count of {name!r} is negative ({value})")
        return float(value)
    array = np.asarray(value, dtype=np.float64)
    if array.shape != tuple(shape):
        raise ValueError(f"per-neuron spike counts of {name!r} have shape {array.shape}, "
                         f"layer is {tuple(shape)}")
    return array


def _synops(counts: float | np.ndarray, fan: np.ndarray) -> float:
    if isinstance(counts, np.ndarray):
        return float((counts * fan).sum())
    return counts * float(fan.mean())


def count_activity(net: Network, spikes: SpikeCounts) -> Activity:
    """Per-sample activity of `net` given mean spike counts per sample for `"input"` and every layer."""
    net.validate()
    names = [INPUT, *(lay.name for lay in net.layers)]
    counts = {name: _spikes_of(spikes, name, net.shape_of(name)) for name in names}
    layers = []
    for layer in net.layers:
        synops = spikes_in = 0.0
        synapses = macs = acs = 0
        for syn in layer.synapses:
            fan = fanout(syn, net.shape_of(syn.source), layer.shape)
            n_conn = int(fan.sum())
            synapses += n_conn
            synops += _synops(counts[syn.source], fan)
            spikes_in += float(np.sum(counts[syn.source]))
            if syn.role == "weight":
                macs += n_conn
            else:
                acs += n_conn
        emitted = float(np.sum(counts[layer.name]))
        layers.append(
            LayerActivity(layer.name, layer.num_neurons, emitted, synapses, synops, spikes_in, macs, acs))
    return Activity(layers, float(np.sum(counts[INPUT])), net.steps_per_sample())


def structural_activity(net: Network) -> Activity:
    """The activity of a silent run: every count that depends on the structure alone (neurons, synapses,
    MACs), none that depends on spikes."""
    return count_activity(net, {name: 0.0 for name in (INPUT, *(lay.name for lay in net.layers))})
