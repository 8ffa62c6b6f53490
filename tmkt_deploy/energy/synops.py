"""Work of one inference from the IR and recorded spike counts: synaptic ops, neuron updates, spikes.

Fan-outs are `tmkt_common.energy_model.fanout`'s exact per-source-neuron counts (conv borders, stride,
dilation, groups), the same function training's energy term uses.

Definitions (per inference, i.e. per sample, averaged over samples):
- spikes[name]: spikes emitted by layer `name`; for `"input"` the number of (graded) input events, not their
  payload sum. An array shaped like the layer (per-neuron counts, what the export stores) gives exact
  synaptic ops; a plain number is priced at the layer's mean fan-out, which is exact only when spikes are
  spread evenly (library callers only: the report always has per-neuron counts);
- synaptic ops into a layer = sum over its synapses of sum_i spikes_i x fanout_i (structural connections,
  zero weights included: the chip walks them); `synops_nonzero` skips zero-weight connections;
- spikes routed = one message per spike per consuming synapse (multicast to the layer's cores counted once);
- neuron updates = neurons x steps (every neuron is updated every step); `steps` is the schedule's: T +
  latency per sample `isolated`, T per sample `streaming` (see `SCHEDULES`); active updates = spikes, or
  `active_updates` (neuron-steps whose state changed) when the caller measured them;
- MACs / ACs of the ANN equivalent (one dense pass): structural connections of learned (`weight`) synapses are
  MACs, those of sum-pool and identity synapses are accumulates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tmkt_common.energy_model import Connection, nonzero_fanout
from tmkt_common.energy_model import fanout as connection_fanout
from tmkt_deploy.ir import INPUT, Network, Synapse

SpikeCounts = Mapping[str, "float | np.ndarray"]
# How samples follow each other on the chip. isolated: each sample runs its T frames then `latency` empty
# steps that flush the pipeline (what Lava, the emulator and the spike check run). streaming: the next
# sample's frames follow at once (each layer resets at its own latency, every T steps), so a sample costs T
# steps and the latency is paid once per stream; predictions are the same (they read the first T steps of
# each layer's window).
SCHEDULES = ("isolated", "streaming")
DEFAULT_SCHEDULE = "isolated"


def connection(syn: Synapse, source_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> Connection:
    """The geometry of an IR synapse (pools are depthwise convs in the IR already)."""
    if syn.kind == "dense":
        return Connection("dense", tuple(source_shape), tuple(target_shape))
    return Connection("conv", tuple(source_shape), tuple(target_shape), kernel=tuple(syn.weight.shape[2:]),
                      stride=syn.stride, padding=syn.padding, dilation=syn.dilation, groups=syn.groups)


def fanout(syn: Synapse, source_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> np.ndarray:
    """Number of target neurons each source neuron of `syn` reaches, shaped like the source layer.

    The shapes must fit the weights (what `Network.validate` checks)."""
    return connection_fanout(connection(syn, source_shape, target_shape))


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
    synops_nonzero: float = 0.0
    input_synops: float = 0.0  # the part of `synops` and `spikes_in` driven by the network's input events
    input_spikes_in: float = 0.0


@dataclass(frozen=True)
class Activity:
    """Per-sample work of a whole network run for `steps` time steps per sample."""

    layers: list[LayerActivity]
    input_spikes: float
    steps: int
    active_updates: float | None = None  # neuron-steps whose state changed; None: not measured

    @property
    def synops(self) -> float:
        return sum(lay.synops for lay in self.layers)

    @property
    def synops_nonzero(self) -> float:
        return sum(lay.synops_nonzero for lay in self.layers)

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
    def firing_rate(self) -> float:
        """Mean spikes per neuron per step."""
        return self.spikes / max(self.neuron_updates, 1)

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


def count_activity(net: Network, spikes: SpikeCounts, *, steps: int | None = None,
                   active_updates: float | None = None) -> Activity:
    """Per-sample activity of `net` given mean spike counts per sample for `"input"` and every layer, run for
    `steps` steps per sample (default: the isolated schedule's T + latency)."""
    net.validate()
    names = [INPUT, *(lay.name for lay in net.layers)]
    counts = {name: _spikes_of(spikes, name, net.shape_of(name)) for name in names}
    layers = []
    for layer in net.layers:
        synops = spikes_in = nonzero = from_input = routed_input = 0.0
        synapses = macs = acs = 0
        for syn in layer.synapses:
            conn = connection(syn, net.shape_of(syn.source), layer.shape)
            fan = connection_fanout(conn)
            n_conn = int(fan.sum())
            synapses += n_conn
            ops, sent = _synops(counts[syn.source], fan), float(np.sum(counts[syn.source]))
            synops += ops
            spikes_in += sent
            nonzero += _synops(counts[syn.source], nonzero_fanout(conn, syn.weight))
            if syn.source == INPUT:
                from_input += ops
                routed_input += sent
            if syn.role == "weight":
                macs += n_conn
            else:
                acs += n_conn
        emitted = float(np.sum(counts[layer.name]))
        layers.append(LayerActivity(layer.name, layer.num_neurons, emitted, synapses, synops, spikes_in, macs,
                                    acs, nonzero, from_input, routed_input))
    return Activity(layers, float(np.sum(counts[INPUT])), net.steps_per_sample() if steps is None else steps,
                    active_updates)


def schedule_steps(net: Network, schedule: str) -> int:
    """Steps one sample costs under `schedule` (see `SCHEDULES`)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {list(SCHEDULES)}")
    return net.steps_per_sample() if schedule == "isolated" else net.time_steps


def structural_activity(net: Network) -> Activity:
    """The activity of a silent run: every count that depends on the structure alone (neurons, synapses,
    MACs), none that depends on spikes."""
    return count_activity(net, {name: 0.0 for name in (INPUT, *(lay.name for lay in net.layers))})
