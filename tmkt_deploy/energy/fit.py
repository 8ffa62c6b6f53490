"""Does a network fit a neuromorphic chip: cores per layer (by neurons and by synapse memory), and chips.

Our own estimate because the real answer comes from Intel's compiler (lava-loihi, not public): it assumes each
layer gets its own cores, split evenly, and that synapses are stored densely at the network's weight precision
with no index overhead and no convolution weight sharing. Conv layers therefore get an upper bound on synapse
memory; neuron-bound layers are exact up to per-core neuron-state limits the profile does not model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tmkt_common.energy_model import Profile
from tmkt_deploy.energy.synops import Activity, structural_activity
from tmkt_deploy.ir import Network


@dataclass(frozen=True)
class Fit:
    """Cores per layer, what bounds each (`neurons` or `synapses`), the total, and chips needed."""

    profile: str
    cores_by_layer: dict[str, int]
    limited_by: dict[str, str]
    weight_bits: int
    weights_fit: bool
    cores: int
    chips: int


def weight_bits(net: Network) -> int:
    """Signed bits the IR's largest weight magnitude needs (the precision the chip must store)."""
    largest = max(int(np.abs(syn.weight).max(initial=0)) for layer in net.layers for syn in layer.synapses)
    return max(largest, 1).bit_length() + 1


def fit(net: Network, profile: Profile, activity: Activity | None = None) -> Fit:
    """Cores and chips `net` needs on the neuromorphic target `profile`. Neurons and synapses per layer come
    from `activity` (`count_activity(net, ...)`, which has the fan-outs) or, without one, a silent run."""
    if not profile.can_fit:
        raise ValueError(f"profile {profile.name!r} gives no chip capacity (an {profile.model} profile or an "
                         "event-pricing convention), so there is nothing to fit")
    activity = activity or structural_activity(net)
    counted = [(lay.name, lay.neurons) for lay in activity.layers]
    if counted != [(lay.name, lay.num_neurons) for lay in net.layers]:
        raise ValueError(f"fit: the activity's layers are not those of network {net.name!r}")
    bits = weight_bits(net)
    neurons_per_core = profile.si("neurons_per_core")
    synapses_per_core = profile.si("synapse_memory_per_core") / bits
    cores_by_layer, limited_by = {}, {}
    for layer in activity.layers:
        by_neurons = math.ceil(layer.neurons / neurons_per_core)
        by_synapses = math.ceil(layer.synapses / synapses_per_core)
        cores_by_layer[layer.name] = max(by_neurons, by_synapses, 1)
        limited_by[layer.name] = "synapses" if by_synapses > by_neurons else "neurons"
    cores = sum(cores_by_layer.values())
    return Fit(profile.name, cores_by_layer, limited_by, bits, bits <= profile.si("max_weight_bits"), cores,
               math.ceil(cores / profile.si("cores_per_chip")))
