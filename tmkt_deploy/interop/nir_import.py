"""Read a NIR graph (written by snnTorch, Norse, sinabs, Rockpool, or by us) into the integer IR.

NIR libraries (`nir`, `nirtorch`) read and type the graph but map it only onto other simulators; nothing maps
it onto Loihi's integer CUBA neuron, so the walk and the quantisation are ours.

Reading. Nodes: Input, Output, Conv2d, Affine, Linear, SumPool2d, AvgPool2d, Flatten, Scale, CubaLIF, LIF,
IF. Every neuron node becomes an IR layer; every path of weight/pool/Flatten/Scale nodes from a neuron (or the
input) into it becomes one synapse, so a neuron with several incoming paths (residual edges) gets several
synapses. Neuron dynamics are read as forward Euler at `dt` (the graph's `metadata["dt"]`, else 1e-4, what
snnTorch assumes) and written in Loihi's form `u = (1 - i_decay/4096) u + W s`,
`v = (1 - v_decay/4096) v + u + bias`, spike when `v > θ`, then `v = 0`:
- CubaLIF: `i_decay = 4096 dt/tau_syn`, `v_decay = 4096 dt/tau_mem`, incoming weights times
  `w_in (dt/tau_syn) r (dt/tau_mem)`, `bias = v_leak dt/tau_mem`;
- LIF: `i_decay = 4096` (no synaptic memory), `v_decay = 4096 dt/tau`, weights times `r dt/tau`;
- IF: `i_decay = 4096`, `v_decay = 0`, weights times `r` (the discrete `v += r x` every client uses).
A NIR graph has no latency; the IR adds one step per layer and delays shorter paths where they meet, so the
IR's output at step t + latency is the graph's at step t.

Quantisation (per layer, all incoming synapses share one scale so their sums stay comparable):
`s = 254 / max|W|` (`s = 1` when the weights already are Loihi weights, as in our own export), weights
`2 round(W s / 2)` (even integers in [-256, 254]: 8-bit mixed-sign Loihi weights, `weight_exp = 0`),
`vth_mant = round(θ s)`, `bias_mant = round(bias s)` with `bias_exp = 6`, decays rounded to integers.
Weights from the input are divided by `input_scale` (inputs are graded payloads
`clamp(round(x input_scale), 0, 255)`). `float_simulation` runs the same graph unquantised (real-valued
decays, no rounding) so the cost of this rule can be measured (`quantisation_cost`).

Refused, all at once in one `UnsupportedError` naming every node: other node types, nested graphs, per-neuron
time constants/thresholds/leaks, a non-zero reset potential, non-uniform Scale, two weight nodes on one path,
conv/affine biases into a decaying synaptic current.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import nir
import numpy as np
import torch

from tmkt_common.errors import UnsupportedError
from tmkt_common.graph import INPUT

from ..ir import Cuba, Layer, Network, Synapse
from ..loihi_params import DECAY_UNITY
from .nir_export import DEFAULT_DT  # one IR step, both ways

WEIGHT_MAX = 254  # the largest even 8-bit mixed-sign Loihi weight (SLAYER's grid)
BIAS_EXP = 6
NEURONS = (nir.CubaLIF, nir.LIF, nir.IF)
WEIGHTED = (nir.Conv2d, nir.Affine, nir.Linear, nir.SumPool2d, nir.AvgPool2d)
PASS_THROUGH = (nir.Flatten, nir.Scale)
SUPPORTED = (nir.Input, nir.Output, *NEURONS, *WEIGHTED, *PASS_THROUGH)


@dataclass
class FloatLayer:
    """One layer's unquantised Loihi-form dynamics (real weights in `synapses`), for `float_simulation`."""

    keep_i: float  # 1 - i_decay / 4096
    keep_v: float
    bias: float
    threshold: float
    synapses: list[Synapse]


@dataclass
class NirImport:
    net: Network
    float_layers: dict[str, FloatLayer]


class _Problems:
    """Collects every unsupported node with its reason, to raise them as one error."""

    def __init__(self, source: str) -> None:
        self.source, self.items = source, {}

    def add(self, node: str, kind: str, reason: str) -> None:
        self.items.setdefault(f"{node!r} ({kind})", reason)

    def raise_any(self) -> None:
        if self.items:
            listed = "; ".join(f"{node}: {why}" for node, why in self.items.items())
            supported = ", ".join(sorted(t.__name__ for t in SUPPORTED))
            raise UnsupportedError(self.source, f"{len(self.items)} unsupported node(s): {listed} "
                                   f"(the IR takes {supported})")


def _one(value: object, what: str) -> float:
    values = np.unique(np.asarray(value, dtype=np.float64))
    if values.size != 1:
        raise ValueError(f"{what} differs between neurons ({values.size} values); the IR holds one per layer")
    return float(values[0])


def _pair(value: object) -> tuple[int, int]:
    if isinstance(value, str):
        raise ValueError(f"padding {value!r} (give explicit numbers)")
    flat = np.broadcast_to(np.asarray(value, dtype=np.int64).ravel(), (2,))
    return int(flat[0]), int(flat[-1])


def _neuron(node: nir.NIRNode, dt: float) -> tuple[float, float, float, float, float]:
    """(keep_i, keep_v, weight gain, bias, threshold) of a neuron node read as Euler at `dt`."""
    if getattr(node, "v_reset", None) is not None and np.any(np.asarray(node.v_reset) != 0):
        raise ValueError("v_reset is not 0 (Loihi resets v to 0)")
    theta = _one(node.v_threshold, "v_threshold")
    if isinstance(node, nir.IF):
        return 0.0, 1.0, _one(node.r, "r"), 0.0, theta
    if isinstance(node, nir.LIF):
        b = dt / _one(node.tau, "tau")
        return 0.0, 1.0 - b, _one(node.r, "r") * b, _one(node.v_leak, "v_leak") * b, theta
    a, b = dt / _one(node.tau_syn, "tau_syn"), dt / _one(node.tau_mem, "tau_mem")
    gain = _one(node.w_in, "w_in") * a * _one(node.r, "r") * b
    return 1.0 - a, 1.0 - b, gain, _one(node.v_leak, "v_leak") * b, theta


def _decay(keep: float) -> int:
    decay = round(DECAY_UNITY * (1.0 - keep))
    if not 0 <= decay <= DECAY_UNITY:
        raise ValueError(f"decay factor {keep:.4g} per step is outside [0, 1] (a time constant below dt?)")
    return decay


class _Walker:
    """Turns paths of NIR nodes into IR synapses."""

    def __init__(self, graph: nir.NIRGraph, problems: _Problems, input_scale: float) -> None:
        self.graph, self.problems, self.input_scale = graph, problems, input_scale
        self.preds: dict[str, list[str]] = {name: [] for name in graph.nodes}
        for src, dst in graph.edges:
            self.preds[dst].append(src)
        self.input = next(name for name, node in graph.nodes.items() if isinstance(node, nir.Input))

    def is_source(self, name: str) -> bool:
        return name == self.input or isinstance(self.graph.nodes[name], NEURONS)

    def paths(self, name: str) -> Iterator[tuple[str, list[str]]]:
        """(source neuron or input, the nodes between it and `name` in forward order) for every path."""
        for pred in self.preds[name]:
            if self.is_source(pred):
                yield pred, []
            else:
                for source, between in self.paths(pred):
                    yield source, [*between, pred]

    def synapse(self, source: str, between: list[str], source_shape: tuple[int, ...],
                target: str) -> tuple[Synapse, float] | None:
        """The path as one real-valued IR synapse (source renamed later) and its constant input (bias)."""
        gain, weighted, constant = 1.0 / self.input_scale if source == self.input else 1.0, None, 0.0
        for name in between:
            node = self.graph.nodes[name]
            if isinstance(node, nir.Scale):
                try:
                    gain *= _one(node.scale, "scale")
                except ValueError as exc:
                    self.problems.add(name, "Scale", str(exc))
            elif isinstance(node, WEIGHTED):
                if weighted is not None:
                    self.problems.add(name, type(node).__name__, f"a second weight node after {weighted!r} "
                                      f"on the path into {target!r} (one synapse per path: add a neuron)")
                    return None
                weighted = name
        if weighted is None:
            return self.identity(source, source_shape, gain), 0.0
        node = self.graph.nodes[weighted]
        kind = type(node).__name__
        try:
            syn, bias = self.weighted(node, source, source_shape)
        except ValueError as exc:
            self.problems.add(weighted, kind, str(exc))
            return None
        if bias.size and np.any(bias != 0):
            try:
                constant = _one(bias, "bias") * gain
            except ValueError as exc:
                self.problems.add(weighted, kind, str(exc))
                return None
        return replace(syn, weight=syn.weight * gain), constant

    @staticmethod
    def identity(source: str, shape: tuple[int, ...], gain: float) -> Synapse:
        if len(shape) == 3:
            return Synapse(source, "conv", np.full((shape[0], 1, 1, 1), gain), groups=shape[0],
                           role="identity")
        return Synapse(source, "dense", np.eye(int(np.prod(shape))) * gain, role="identity")

    @staticmethod
    def weighted(node: nir.NIRNode, source: str, shape: tuple[int, ...]) -> tuple[Synapse, np.ndarray]:
        if isinstance(node, (nir.Affine, nir.Linear)):
            weight = np.asarray(node.weight, dtype=np.float64)
            bias = np.asarray(getattr(node, "bias", np.zeros(0)), dtype=np.float64).ravel()
            return Synapse(source, "dense", weight), bias
        if len(shape) != 3:
            raise ValueError(f"a 2-d operation on a source of shape {shape}")
        if isinstance(node, nir.Conv2d):
            weight = np.asarray(node.weight, dtype=np.float64)
            return Synapse(source, "conv", weight, stride=_pair(node.stride), padding=_pair(node.padding),
                           dilation=_pair(node.dilation), groups=int(node.groups)), \
                np.asarray(node.bias, dtype=np.float64).ravel()
        kernel = _pair(node.kernel_size)
        value = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (kernel[0] * kernel[1])
        weight = np.full((shape[0], 1, *kernel), value)
        return Synapse(source, "conv", weight, stride=_pair(node.stride), padding=_pair(node.padding),
                       groups=shape[0], role="pool"), np.zeros(0)


def _input_shape(graph: nir.NIRGraph, name: str,
                 override: tuple[int, int, int] | None) -> tuple[int, int, int]:
    if override:
        return override
    shape = tuple(int(s) for s in np.asarray(graph.nodes[name].input_type["input"]).ravel())
    if len(shape) == 1:
        return (shape[0], 1, 1)
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    raise ValueError(f"Input node {name!r} has shape {shape}; give input_shape=(C, H, W)")


def _topological(graph: nir.NIRGraph) -> list[str]:
    """The nodes in an order where every edge runs forward (Kahn's algorithm, linear in nodes + edges): ready
    nodes first-in first-out, in node order at the start and edge order after; a cycle is a ValueError."""
    indegree = {name: 0 for name in graph.nodes}
    successors: dict[str, list[str]] = {}
    for src, dst in graph.edges:
        indegree[dst] += 1
        successors.setdefault(src, []).append(dst)
    ready = deque(name for name, d in indegree.items() if d == 0)
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for dst in successors.get(name, ()):
            indegree[dst] -= 1
            if indegree[dst] == 0:
                ready.append(dst)
    if len(order) != len(graph.nodes):
        raise ValueError("the graph has a cycle (recurrent connections are not supported)")
    return order


def _quantise(layer_name: str, shape: tuple[int, ...], flayer: FloatLayer, i_decay: int,
              v_decay: int) -> Layer:
    peak = max(float(np.abs(s.weight).max()) for s in flayer.synapses)
    on_grid = all(np.array_equal(s.weight, 2 * np.round(s.weight / 2)) for s in flayer.synapses)
    scale = 1.0 if (on_grid and peak <= WEIGHT_MAX) or peak == 0 else WEIGHT_MAX / peak
    synapses = [replace(s, weight=np.clip(2 * np.round(s.weight * scale / 2), -256, WEIGHT_MAX)
                        .astype(np.int16)) for s in flayer.synapses]
    vth = round(flayer.threshold * scale)
    if vth < 1:
        raise ValueError(f"threshold {flayer.threshold:.4g} quantises to {vth} (scale {scale:.4g})")
    bias = round(flayer.bias * scale)
    if abs(bias) >= 1 << 12:
        raise ValueError(f"bias {flayer.bias:.4g} quantises to {bias}, beyond Loihi's 13-bit bias mantissa")
    neuron = Cuba(i_decay=i_decay, v_decay=v_decay, vth_mant=vth, bias_mant=bias,
                  bias_exp=BIAS_EXP if bias else 0)
    return Layer(layer_name, shape, neuron, synapses)


def read_nir(source: str | os.PathLike | nir.NIRGraph, *, time_steps: int = 10, input_scale: float = 1.0,
             dt: float | None = None, input_shape: tuple[int, int, int] | None = None,
             name: str | None = None) -> NirImport:
    """A NIR graph (file or object) → a validated IR `Network` plus its unquantised form. Raises one
    `UnsupportedError` listing every node it cannot take, ValueError for unreadable files."""
    if isinstance(source, nir.NIRGraph):
        graph, label = source, name or "nir"
    else:
        path = Path(source)
        try:
            graph = nir.read(path)
        except Exception as exc:  # noqa: BLE001 - nir raises KeyError/OSError/ValueError for bad files
            raise ValueError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") from None
        label = str(path)
    problems = _Problems(label)
    for node_name, node in graph.nodes.items():
        if not isinstance(node, SUPPORTED):
            problems.add(node_name, type(node).__name__, "node type not supported")
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedError(label, f"needs one Input and one Output node, found {inputs} and {outputs}")
    problems.raise_any()
    dt = float(dt or graph.metadata.get("dt", DEFAULT_DT))
    walker = _Walker(graph, problems, input_scale)
    try:
        order = _topological(graph)
        shapes: dict[str, tuple[int, ...]] = {inputs[0]: _input_shape(graph, inputs[0], input_shape)}
    except ValueError as exc:
        raise UnsupportedError(label, str(exc)) from None
    rename = {inputs[0]: INPUT}
    layers, float_layers = [], {}
    for node_name in order:
        node = graph.nodes[node_name]
        if not isinstance(node, NEURONS):
            continue
        kind = type(node).__name__
        try:
            keep_i, keep_v, gain, bias, theta = _neuron(node, dt)
            i_decay, v_decay = _decay(keep_i), _decay(keep_v)
        except ValueError as exc:
            problems.add(node_name, kind, str(exc))
            continue
        synapses = []
        for src, between in walker.paths(node_name):
            if src not in shapes:
                continue  # its source was refused: already listed
            made = walker.synapse(src, between, shapes[src], node_name)
            if made is None:
                continue
            syn, constant = made
            if constant and keep_i != 0.0:
                problems.add(node_name, kind, "a constant input (conv/affine bias) into a decaying synaptic "
                             "current; Loihi's bias adds to v")
            bias += constant * gain
            synapses.append(replace(syn, source=rename[src], weight=syn.weight * gain))
            layer_shape = syn.output_shape(shapes[src])
        if not synapses:
            problems.add(node_name, kind, "no input path from the Input node")
            continue
        float_layers[node_name] = FloatLayer(keep_i, keep_v, bias, theta, synapses)
        try:
            layers.append(_quantise(node_name, layer_shape, float_layers[node_name], i_decay, v_decay))
        except ValueError as exc:
            problems.add(node_name, kind, str(exc))
            continue
        shapes[node_name], rename[node_name] = layer_shape, node_name
    out_src = walker.preds[outputs[0]]
    if len(out_src) != 1 or not isinstance(graph.nodes[out_src[0]], NEURONS):
        problems.add(outputs[0], "Output", f"must be fed by exactly one neuron node, not {out_src}")
    problems.raise_any()
    stored_name = graph.metadata.get("network")
    net = Network(name=name or (stored_name if isinstance(stored_name, str) else None) or Path(label).stem,
                  input_shape=shapes[inputs[0]], time_steps=time_steps, layers=layers, output=out_src[0],
                  meta={"source": "nir", "file": Path(label).name, "dt": dt, "input_scale": input_scale})
    _align_delays(net)
    for layer in net.layers:  # the float layers carry the same delays
        for fsyn, syn in zip(float_layers[layer.name].synapses, layer.synapses, strict=True):
            fsyn.delay = syn.delay
    try:
        net.validate()
    except ValueError as exc:
        raise UnsupportedError(label, str(exc)) from None
    return NirImport(net, float_layers)


def _align_delays(net: Network) -> None:
    """NIR has no latency: delay the synapses of shorter paths so every input of a layer arrives together."""
    for layer in net.layers:
        arrivals = [net.latency(s.source) for s in layer.synapses]
        for syn, arrival in zip(layer.synapses, arrivals, strict=True):
            syn.delay = max(arrivals) - arrival


def float_simulation(imported: NirImport, frames: np.ndarray) -> np.ndarray:
    """Output spikes (N, *output shape, P) of the unquantised graph in the IR's timing (P = T + latency):
    real-valued Euler dynamics, the chip's latency and delays, `v > θ` then `v = 0`."""
    net = imported.net
    x = torch.as_tensor(np.asarray(frames), dtype=torch.float64)
    steps = net.steps_per_sample(x.shape[-1])
    history = {INPUT: [x[..., t] if t < x.shape[-1] else torch.zeros_like(x[..., 0]) for t in range(steps)]}
    state = {}
    for t in range(steps):
        for layer in net.layers:
            fl = imported.float_layers[layer.name]
            total = torch.zeros(len(x), *layer.shape, dtype=torch.float64)
            for syn in fl.synapses:
                back = t - 1 - syn.delay
                if back < 0:
                    continue
                s = history[syn.source][back]
                w = torch.as_tensor(syn.weight)
                if syn.kind == "dense":
                    total += s.reshape(len(s), -1) @ w.T
                else:
                    total += torch.nn.functional.conv2d(s, w, stride=syn.stride, padding=syn.padding,
                                                               dilation=syn.dilation, groups=syn.groups)
            u, v = state.get(layer.name, (0.0, 0.0))
            u = fl.keep_i * u + total
            v = fl.keep_v * v + u + fl.bias
            spikes = (v > fl.threshold).to(torch.float64)
            state[layer.name] = (u, torch.where(spikes > 0, 0.0, v))
            history.setdefault(layer.name, []).append(spikes)
    return torch.stack(history[net.output], dim=-1).numpy().astype(np.uint8)


def quantisation_cost(imported: NirImport, frames: np.ndarray) -> dict:
    """How far the quantised IR (the emulator, bit-exact with Lava) is from the unquantised graph on `frames`:
    the share of equal output spikes, of equal predicted classes (most output spikes), spikes per sample."""
    from ..check.records import predict_counts
    from ..emulator import emulate

    net = imported.net
    ours = emulate(net, frames).output_spikes
    ref = float_simulation(imported, frames).reshape(ours.shape)
    latency = net.latency()
    return {"samples": len(frames), "output_spike_agreement": float((ours == ref).mean()),
            "prediction_agreement": float(np.mean(predict_counts(ours, latency)
                                                  == predict_counts(ref, latency))),
            "output_spikes_per_sample": {"quantised": float(ours.sum() / len(frames)),
                                         "float": float(ref.sum() / len(frames))}}
