"""One Loihi time step of an IR network as an integer-exact ONNX graph with explicit state (opset 17).

No converter exists from Lava's fixed-point process models to ONNX (torch.onnx would export SLAYER's float
dynamics, not the chip's), so we build the graph with `onnx.helper`, op for op after Lava's bit-accurate
models:

- synapse (Lava `Dense` / `Conv`): `a = W · s` on the source's spikes of the previous step (Lava's one-step
  dendritic buffer; a `Synapse.delay` of d reads the spikes of d steps earlier). Dense uses the weights Lava's
  Dense really multiplies with (`loihi_params.lava_dense_weight`: Lava's 8-bit clip and truncation) and
  shifts by `weight_exp` (floor when negative); Conv uses raw weights and no exponent, like Lava's Conv.
  The synapses of a layer are summed;
- neuron (Lava `PyLifModelBitAcc`): `u = trunc0(u * (4096 - i_decay) / 4096) + (a << 6)`, wrapped to 24 bits;
  `v = trunc0(v * (4096 - v_decay) / 4096) + u + (bias_mant << bias_exp)`, clipped to ±(2^23 - 1);
  spike where `v > vth_mant << 6`, then `v = 0` there. `trunc0` is Lava's sign-magnitude shift (toward 0).

Graph interface (N = batch, dynamic; layer/tensor names are the IR's):
- input  `x`: uint8 (N, C, H, W), the graded input frame of this step;
- state in/out, per layer L: `L.u`, `L.v` int32 (N, *shape) → `L.u.next`, `L.v.next`;
  per spike source S (the input or a layer that feeds a synapse): `S.spikes` uint8 (N, D, *shape) →
  `S.spikes.next`, slot k holding the spikes of k+1 steps ago, D = 1 + the largest delay leaving S;
- output `spikes`: uint8 (N, *output_shape), the output layer's spikes of this step.
Zero-filled state is the reset state. `state_spec(net)` lists every state tensor with shape and dtype; the
model's metadata (`tmkt.state`, `tmkt.latency`, `tmkt.time_steps`, `tmkt.class_names`) carries the same, so
the file runs without tmkt: feed T frames, then `tmkt.latency` zero frames, and sum `spikes` over all steps.

Convolutions and matrix products run in float32 (onnxruntime has no integer Conv for 9-bit weights): exact as
long as every partial sum stays below 2^24; `write_onnx` checks per synapse from the weights that no sum can
reach 2^23 (Lava Conv's 24-bit output range), so neither rounding nor wrapping can occur.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tmkt_common.atomic import atomic_write
from tmkt_common.errors import UnsupportedError
from tmkt_common.graph import INPUT

from ..ir import Layer, Network, Synapse
from ..loihi_params import (
    ACT_SHIFT,
    DECAY_SHIFT,
    UV_LIMIT,
    lava_dense_weight,
    lif_params,
)

OPSET = 17
# Largest synaptic sum accepted: float32-exact and inside Lava Conv's 24-bit output (nothing rounds or wraps).
ACC_LIMIT = 1 << 23


@dataclass(frozen=True)
class StateTensor:
    """One recurrent tensor of the step graph: fed as `name`, returned as `name + '.next'`."""

    name: str
    shape: tuple[int, ...]  # without the batch dimension
    dtype: type


def _source_depths(net: Network) -> dict[str, int]:
    depths: dict[str, int] = {}
    for layer in net.layers:
        for syn in layer.synapses:
            depths[syn.source] = max(depths.get(syn.source, 0), syn.delay + 1)
    return depths


def state_spec(net: Network) -> list[StateTensor]:
    """Every state tensor of the step graph, in graph-input order (after `x`)."""
    spec = []
    for layer in net.layers:
        spec += [StateTensor(f"{layer.name}.u", layer.shape, np.int32),
                 StateTensor(f"{layer.name}.v", layer.shape, np.int32)]
    for source, depth in _source_depths(net).items():
        spec.append(StateTensor(f"{source}.spikes", (depth, *net.shape_of(source)), np.uint8))
    return spec


def _check_synapses(net: Network, layer: Layer) -> None:
    where = f"IR layer {layer.name!r}"
    for syn in layer.synapses:
        if syn.kind == "conv" and syn.weight_exp:
            raise UnsupportedError(where, f"conv synapse from {syn.source!r} has weight_exp="
                                   f"{syn.weight_exp}; Lava's Conv applies none (fold it into the weights)")
        source_max = (1 << net.input_bits) - 1 if syn.source == INPUT else 1
        fan = np.abs(syn.weight.astype(np.int64)).reshape(syn.weight.shape[0], -1).sum(axis=1).max()
        if fan * source_max * max(1, 2 ** syn.weight_exp) >= ACC_LIMIT:
            raise UnsupportedError(where, f"synapse from {syn.source!r} can reach |{fan * source_max}| >= "
                                   "2^23, beyond float32-exact accumulation and Lava Conv's 24-bit output")


class _Graph:
    """Appends nodes and constants with unique names; keeps the builder code one line per op."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs: object) -> str:
        self.count += 1
        out = out or f"{op_type.lower()}_{self.count}"
        node = helper.make_node(op_type, list(inputs), [out], name=f"n{self.count}_{op_type}", **attrs)
        self.nodes.append(node)
        return out

    def const(self, value: np.ndarray | int | float, dtype: type = np.int64) -> str:
        self.count += 1
        name = f"c{self.count}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def cast(self, name: str, to: int) -> str:
        return self.op("Cast", name, to=to)

    def trunc_shift(self, x: str, factor: int) -> str:
        """Lava's `sign(x * factor) * (|x * factor| >> 12)` on int64 (BitShift exists only for unsigned types;
        no `Sign`: onnxruntime 1.23's int64 Sign is wrong beyond 2^31)."""
        product = self.op("Mul", x, self.const(factor))
        magnitude = self.cast(self.op("Abs", product), TensorProto.UINT64)
        shifted = self.op("BitShift", magnitude, self.const(DECAY_SHIFT, np.uint64), direction="RIGHT")
        shifted = self.cast(shifted, TensorProto.INT64)
        return self.op("Where", self.op("Less", product, self.const(0)), self.op("Neg", shifted), shifted)


def _synapse(g: _Graph, net: Network, syn: Synapse, spikes: dict[str, str]) -> str:
    """int64 (N, *layer shape) activation of one synapse, from the source's spikes `delay + 1` steps ago."""
    history = spikes[syn.source]
    delayed = g.op("Gather", history, g.const(syn.delay), axis=1)
    x = g.cast(delayed, TensorProto.FLOAT)
    if syn.kind == "conv":
        a = g.op("Conv", x, g.const(syn.weight, np.float32), strides=list(syn.stride),
                 pads=[syn.padding[0], syn.padding[1], syn.padding[0], syn.padding[1]],
                 dilations=list(syn.dilation), group=syn.groups)
    else:
        if len(net.shape_of(syn.source)) > 1:
            x = g.op("Flatten", x, axis=1)  # PyTorch C,H,W order, as the IR's dense weights expect
        a = g.op("MatMul", x, g.const(lava_dense_weight(syn.weight).T, np.float32))
    if syn.weight_exp:
        a = g.op("Mul", a, g.const(2.0 ** syn.weight_exp, np.float32))
        if syn.weight_exp < 0:
            a = g.op("Floor", a)
    return g.cast(a, TensorProto.INT64)


def _neuron(g: _Graph, layer: Layer, a: str) -> str:
    """Lava PyLifModelBitAcc on int64 (parameters mapped by `loihi_params.lif_params`, the one place that
    knows Lava's `du = iDecay - 1`); writes `L.u.next`, `L.v.next` and returns the spikes' name."""
    try:
        p = lif_params(layer.neuron, layer.name)
    except ValueError as exc:
        raise UnsupportedError("ONNX export", str(exc)) from exc
    u = g.trunc_shift(g.cast(f"{layer.name}.u", TensorProto.INT64), p.current_factor)
    u = g.op("Add", u, g.op("Mul", a, g.const(1 << ACT_SHIFT)))
    u = g.op("Where", g.op("Greater", u, g.const(UV_LIMIT)), g.op("Sub", u, g.const(2 * UV_LIMIT)), u)
    u = g.op("Where", g.op("LessOrEqual", u, g.const(-UV_LIMIT)), g.op("Add", u, g.const(2 * UV_LIMIT)), u)
    v = g.trunc_shift(g.cast(f"{layer.name}.v", TensorProto.INT64), p.voltage_factor)
    v = g.op("Add", g.op("Add", v, u), g.const(p.effective_bias))
    v = g.op("Min", g.op("Max", v, g.const(-UV_LIMIT + 1)), g.const(UV_LIMIT - 1))
    fired = g.op("Greater", v, g.const(p.effective_vth))
    v = g.op("Where", fired, g.const(0), v)
    g.op("Cast", u, out=f"{layer.name}.u.next", to=TensorProto.INT32)
    g.op("Cast", v, out=f"{layer.name}.v.next", to=TensorProto.INT32)
    return g.cast(fired, TensorProto.UINT8)


def build_onnx(net: Network) -> onnx.ModelProto:
    """The step graph as an in-memory, checked ONNX model (see the module docstring for its interface)."""
    net.validate()
    if net.input_bits > 8:
        raise UnsupportedError("IR input", f"{net.input_bits}-bit input does not fit the uint8 input tensor")
    for layer in net.layers:
        _check_synapses(net, layer)
    g = _Graph()
    spec = state_spec(net)
    depths = _source_depths(net)
    spikes = {source: f"{source}.spikes" for source in depths}
    fresh = {INPUT: "x"}
    for layer in net.layers:
        a = _synapse(g, net, layer.synapses[0], spikes)
        for syn in layer.synapses[1:]:  # ONNX Sum is float-only
            a = g.op("Add", a, _synapse(g, net, syn, spikes))
        fresh[layer.name] = _neuron(g, layer, a)
    for source, depth in depths.items():
        now = g.op("Unsqueeze", fresh[source], g.const([1]))
        if depth > 1:
            kept = g.op("Slice", spikes[source], g.const([0]), g.const([depth - 1]), g.const([1]))
            now = g.op("Concat", now, kept, axis=1)
        g.op("Identity", now, out=f"{source}.spikes.next")
    g.op("Identity", fresh[net.output], out="spikes")

    def value(name: str, shape: tuple[int, ...], dtype: type) -> onnx.ValueInfoProto:
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return helper.make_tensor_value_info(name, elem, ["N", *shape])

    inputs = [value("x", net.input_shape, np.uint8)] + [value(s.name, s.shape, s.dtype) for s in spec]
    outputs = [value("spikes", net.shape_of(net.output), np.uint8)]
    outputs += [value(f"{s.name}.next", s.shape, s.dtype) for s in spec]
    graph = helper.make_graph(g.nodes, f"{net.name}_step", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tmkt", doc_string=__doc__)
    model.ir_version = 8  # onnxruntime 1.14+ and every opset-17 runtime read IR v8
    helper.set_model_props(model, {
        "tmkt.latency": str(net.latency()), "tmkt.time_steps": str(net.time_steps),
        "tmkt.class_names": json.dumps(list(net.class_names)),
        "tmkt.state": json.dumps([{**asdict(s), "dtype": np.dtype(s.dtype).name} for s in spec]),
    })
    onnx.checker.check_model(model, full_check=True)
    return model


def write_onnx(net: Network, path: str | os.PathLike) -> onnx.ModelProto:
    """Write the one-step graph of `net` to `path` atomically and return the model."""
    model = build_onnx(net)
    with atomic_write(Path(path)) as f:
        f.write(model.SerializeToString())
    return model
