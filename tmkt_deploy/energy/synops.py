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

from tmkt_deploy.ir import INPUT, Layer, Network, Synapse

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


def fanout(syn: Synapse, source_shape: tuple[int, ...], target_shape: tuple[int, ...],
           where: str) -> np.ndarray:
    """Number of target neurons each source neuron of `syn` reaches, shaped like the source layer."""
    n_in = int(np.prod(source_shape))
    if syn.kind == "dense":
        if syn.weight.shape != (int(np.prod(target_shape)), n_in):
            raise ValueError(f"{where}: dense weight {syn.weight.shape} does not map {source_shape} "
                             f"to {target_shape}")
        return np.full(source_shape, int(np.prod(target_shape)), dtype=np.int64)
    if len(source_shape) != 3 or len(target_shape) != 3:
        raise ValueError(f"{where}: conv needs (C, H, W) shapes, got {source_shape} -> {target_shape}")
    c_out, c_in_per_group, kh, kw = syn.weight.shape
    (c_in, h, w), (c_out_t, h_out, w_out) = source_shape, target_shape
    if c_out != c_out_t or c_in_per_group * syn.groups != c_in:
        raise ValueError(f"{where}: conv weight {syn.weight.shape} with groups={syn.groups} does not map "
                         f"{source_shape} to {target_shape}")
    for axis, size, kernel, size_out in (("height", h, kh, h_out), ("width", w, kw, w_out)):
        i = 0 if axis == "height" else 1
        expect = (size + 2 * syn.padding[i] - syn.dilation[i] * (kernel - 1) - 1) // syn.stride[i] + 1
        if expect != size_out:
            raise ValueError(f"{where}: conv output {axis} {size_out} != {expect} from input {size}, "
                             f"kernel {kernel}, stride {syn.stride[i]}, padding {syn.padding[i]}, "
                             f"dilation {syn.dilation[i]}")
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


def layer_synapses(net: Network, layer: Layer) -> int:
    """Structural connections into `layer` (what its cores must store)."""
    return sum(int(fanout(syn, net.shape_of(syn.source), layer.shape, f"IR layer {layer.name!r}").sum())
               for syn in layer.synapses)


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
    names = [INPUT, *(lay.name for lay in net.layers)]
    counts = {name: _spikes_of(spikes, name, net.shape_of(name)) for name in names}
    layers = []
    for layer in net.layers:
        synops = spikes_in = 0.0
        synapses = macs = acs = 0
        for syn in layer.synapses:
            where = f"IR layer {layer.name!r} (synapse from {syn.source!r})"
            fan = fanout(syn, net.shape_of(syn.source), layer.shape, where)
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
    return Activity(layers, float(np.sum(counts[INPUT])), steps_per_inference(net))


def steps_per_inference(net: Network) -> int:
    """Time steps the chip runs per sample: T input frames plus the pipeline's latency to the output."""
    return net.time_steps + net.latency()
