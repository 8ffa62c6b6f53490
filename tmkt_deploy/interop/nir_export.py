"""The integer IR as a NIR graph (`nir.NIRGraph`, written with `nir.write`) for snnTorch, Norse, Rockpool.

The nodes are NIR's own: `Input`, `Conv2d` / `Linear` per synapse (`SumPool2d` for pool synapses), `Flatten`
before a dense synapse on a spatial source, `CubaLIF` per layer, `Output`. A layer with several synapses gets
several edges into its `CubaLIF` (NIR sums them): that is how residual connections appear.

Units: one IR time step is `dt` seconds (default 1e-4: snnTorch's importer hard-codes it; Norse must be
given it, `from_nir(graph, dt=graph.metadata["dt"])`). Weights are the integers Lava multiplies with (dense:
after Lava's 8-bit clip/truncation) times `2**weight_exp`; inputs are the graded 0..255 payloads, i.e. data
frames `x` encoded as `clamp(round(x * input_scale), 0, 255)` (the graph's metadata `input_scale`,
`input_min`, `input_max`, `input_rounding`: NIR has no node for a rounding clamp, and snnTorch and Norse map
no `Scale` node, so the encoding is documented in the graph rather than a node in it).

Discretisation: CubaLIF parameters are chosen so the forward-Euler step at `dt` (snnTorch, Norse) is
Loihi's step in real numbers: `tau_syn = dt * 4096 / i_decay`, `tau_mem = dt * 4096 / v_decay`,
`w_in = tau_syn / dt` (times the pool weight for pool layers), `r = tau_mem / dt`,
`v_leak = bias * tau_mem / dt`, `v_reset = 0` (left out of the file: nir <= 1.0.4, which sinabs pins, cannot
read it and every reader defaults it to 0). No CubaLIF parameters make an exact-exponential reading
(`exp(-dt/tau)`: sinabs, Rockpool) land on the same decays as the Euler one unless both decays are 0, so
exact readers differ from the chip wherever a decay is neither 0 nor 4096 (README, "NIR").
Threshold: Loihi's `v` is an integer in units of 1/64 of a weight and fires on `v > vth << 6`; the file's
`v_threshold = vth + 1/128` lies halfway between two reachable values, so clients firing on `v > θ`
(snnTorch, Norse) and on `v >= θ` (sinabs, Rockpool) both fire exactly when the chip does.

Semantic differences (why a NIR simulator matches the chip closely but not bit for bit; measured in
tests/test_interop_nir.py and by `export --target nir` over the whole test set):
- Loihi rounds `u * (4096 - i_decay) / 4096` and the same for `v` toward zero every step, NIR is real-valued;
  a negative `weight_exp` floors on the chip, not in NIR; Loihi wraps `u` at 24 bits and saturates `v`.
- Lava adds one step of latency per layer (plus `Synapse.delay` where paths meet); a NIR graph has none, so
  those delays are left out and NIR's output at step t corresponds to ours at t + `net.latency()`.
- Shapes follow NIR's batch-free convention: `Flatten(start_dim=0)` on `(C, H, W)`. Grouped convs (identity
  shortcuts) are written as the equivalent block-diagonal groups=1 `Conv2d`: NIR's type inference and
  snnTorch's importer take the input channels from `weight.shape[1]`.
- snnTorch's importer (checked in the tests) needs `v_leak = 0` (no bias), folds a pool layer's `w_in` into
  its threshold (equivalent), and its SumPool2d ignores padding.
Refused (UnsupportedError naming the layer): graded or refractory neurons, a decay of 0 (no finite time
constant), pool synapses whose weights are not one shared value or that share a layer with other synapses.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import h5py
import nir
import numpy as np

from tmkt_common.atomic import atomic_write
from tmkt_common.errors import UnsupportedError
from tmkt_common.graph import INPUT

from ..ir import Layer, Network, Synapse, merge_groups
from ..loihi_params import ACT_SHIFT, DECAY_UNITY, lava_dense_weight, lif_params

DEFAULT_DT = 1e-4
# Half of v's integer step (1/64 of a weight unit) above Loihi's threshold: see the module docstring.
THRESHOLD_OFFSET = 0.5 / (1 << ACT_SHIFT)


def _cuba_lif(layer: Layer, dt: float, w_in: float) -> nir.CubaLIF:
    """CubaLIF for the Lava LIF `loihi_params.lif_params` defines (binary, non-refractory spikes)."""
    n = layer.neuron
    try:
        bias = lif_params(n, layer.name).effective_bias / (1 << ACT_SHIFT)
    except ValueError as exc:
        raise UnsupportedError("NIR export", str(exc)) from exc
    if n.i_decay <= 0 or n.v_decay <= 0:
        raise UnsupportedError(f"IR layer {layer.name!r}", f"decay 0 (i_decay={n.i_decay}, "
                               f"v_decay={n.v_decay}) is a pure integrator with no finite NIR time constant")

    def full(value: float) -> np.ndarray:
        return np.full(layer.shape, value, dtype=np.float64)

    tau_syn, tau_mem = dt * DECAY_UNITY / n.i_decay, dt * DECAY_UNITY / n.v_decay
    return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / dt),
                       v_leak=full(bias * tau_mem / dt), v_threshold=full(n.vth_mant + THRESHOLD_OFFSET),
                       w_in=full(w_in * tau_syn / dt))


def _pool_weight(layer: Layer, syn: Synapse, channels: int) -> float:
    """The one value a sum-pool synapse multiplies by; refuses pools NIR's SumPool2d cannot say."""
    where = f"IR layer {layer.name!r}"
    values = np.unique(syn.weight)
    if len(layer.synapses) != 1:
        raise UnsupportedError(where, "a pool synapse sharing its layer with other synapses (its weight can "
                               "only go into the CubaLIF's w_in)")
    one_window = syn.groups == channels and syn.weight.shape[:2] == (channels, 1) and syn.dilation == (1, 1)
    if values.size != 1 or not one_window:
        raise UnsupportedError(where, "pool synapse is not one shared weight per channel window (SumPool2d)")
    return float(values[0]) * 2.0 ** syn.weight_exp


def _synapse_node(net: Network, syn: Synapse) -> nir.NIRNode:
    scale = 2.0 ** syn.weight_exp
    if syn.kind == "dense":
        return nir.Linear(weight=lava_dense_weight(syn.weight).astype(np.float64) * scale)
    if syn.role == "pool":
        return nir.SumPool2d(kernel_size=np.array(syn.weight.shape[2:]), stride=np.array(syn.stride),
                             padding=np.array(syn.padding))
    weight = merge_groups(syn.weight, syn.groups, syn.groups).astype(np.float64) * scale  # groups=1
    return nir.Conv2d(input_shape=tuple(net.shape_of(syn.source)[1:]), weight=weight, stride=syn.stride,
                      padding=syn.padding, dilation=syn.dilation, groups=1, bias=np.zeros(weight.shape[0]))


def build_nir(net: Network, dt: float = DEFAULT_DT) -> nir.NIRGraph:
    """The IR as a type-checked `nir.NIRGraph` (node names: `input`, `<layer>.syn<k>`, `<source>.flat`,
    `<layer>`, `output`)."""
    net.validate()
    nodes: dict[str, nir.NIRNode] = {INPUT: nir.Input(input_type={"input": np.array(net.input_shape)})}
    edges: list[tuple[str, str]] = []
    for layer in net.layers:
        w_in = 1.0
        for k, syn in enumerate(layer.synapses):
            name = f"{layer.name}.syn{k}"
            source_shape = net.shape_of(syn.source)
            nodes[name] = _synapse_node(net, syn)
            if syn.role == "pool" and syn.kind == "conv":
                w_in = _pool_weight(layer, syn, source_shape[0])
            source = syn.source
            if syn.kind == "dense" and len(source_shape) > 1:
                flat = f"{syn.source}.flat"
                if flat not in nodes:
                    nodes[flat] = nir.Flatten(input_type={"input": np.array(source_shape)}, start_dim=0)
                    edges.append((syn.source, flat))
                source = flat
            edges += [(source, name), (name, layer.name)]
        nodes[layer.name] = _cuba_lif(layer, dt, w_in)
    nodes["output"] = nir.Output(output_type={"output": np.array(net.shape_of(net.output))})
    edges.append((net.output, "output"))
    metadata = {"source": "tmkt integer IR", "network": net.name, "dt": dt, "input_bits": net.input_bits,
                "input_scale": float(net.meta.get("input_scale", 1.0)), "input_min": 0,
                "input_max": (1 << net.input_bits) - 1, "input_rounding": "half-to-even",
                "latency_steps": net.latency()}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def write_nir(net: Network, path: str | os.PathLike, dt: float = DEFAULT_DT) -> nir.NIRGraph:
    """Write `net` as a NIR HDF5 file at `path` (atomically) and return the graph."""
    graph = build_nir(net, dt)
    with atomic_write(Path(path), "w+b") as f:
        nir.write(f, graph)
        _drop_zero_resets(f)
    return graph


def _drop_zero_resets(f: io.IOBase) -> None:
    """Remove the all-zero `v_reset` datasets nir >= 1.0.5 writes: nir 1.0.4 (sinabs's pin) refuses the key,
    newer readers default it to 0."""
    with h5py.File(f, "r+") as h5:
        for node in h5["node/nodes"].values():
            if "v_reset" in node and not np.any(node["v_reset"][()]):
                del node["v_reset"]
