"""A `timing="stream"` IR (a lava-dl netx network) as Lava processes, run freely one sample at a time.

The processes and parameters netx's `hdf5.Network` builds, from our IR: `Dense` / `DelayDense` (the IR's
already optimised weights, `weight_exp`, `num_weight_bits`, `num_message_bits`), `Conv`, a recurrent Dense
from a layer's `s_out` back to its own `a_in`, and `LIF` / `LIFReset` (per-neuron `bias_mant`),
`Delta` / `SigmaDelta` / `Sigma` and `RF` / `RF_IZ` neurons (two Dense into their real and imaginary inputs,
as netx's ComplexDense). An input layer with neurons gets its scale as a 1x1 depthwise
`Conv` (netx leaves that block's input unconnected; see `interop.netx_import`). Each sample is a fresh
graph from zero state, as a fresh netx network is.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc import io
from lava.proc.conv.process import Conv
from lava.proc.dense.process import DelayDense, Dense
from lava.proc.lif.process import LIF, LIFReset
from lava.proc.rf.process import RF
from lava.proc.rf_iz.process import RF_IZ
from lava.proc.sdn.process import Delta, Sigma, SigmaDelta

from tmkt_common.errors import UnsupportedError
from tmkt_common.graph import INPUT

from ..ir import Cuba, Layer, Network, Resonator, Synapse
from ..loihi_params import lif_params
from .builder import conv_weight, lava_shape

MAX_DELAY = 62  # netx builds DelayDense with max_delay=62


def _lava_array(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An IR-shaped (C, H, W) per-neuron array in Lava's (W, H, C) order."""
    return np.ascontiguousarray(values.reshape(shape).transpose(*reversed(range(len(shape)))))


def _neuron(layer: Layer) -> AbstractProcess:
    shape, n = lava_shape(layer.shape), layer.neuron
    bias = None if layer.bias is None else _lava_array(layer.bias, layer.shape).astype(np.int32)
    if isinstance(n, Cuba):
        try:
            p = lif_params(n, layer.name)
        except ValueError as exc:
            raise UnsupportedError(str(exc)) from None
        args = {"shape": shape, "du": p.du, "dv": p.dv, "vth": p.vth, "bias_exp": p.bias_exp,
                "bias_mant": p.bias_mant if bias is None else bias, "name": layer.name}
        if n.reset_interval:
            return LIFReset(reset_interval=n.reset_interval, reset_offset=n.reset_offset, **args)
        return LIF(**args)
    if isinstance(n, Resonator):  # as netx's get_neuron_params builds it (no name, no bias)
        process = RF if n.kind == "rf" else RF_IZ
        return process(shape=shape, period=n.period, alpha=n.alpha, state_exp=n.state_exp,
                       decay_bits=n.decay_bits, vth=n.vth_mant)
    if n.kind == "sigma":
        return Sigma(shape=shape)  # lava.proc.sdn processes take no name
    common = {"shape": shape, "vth": n.vth_mant, "spike_exp": n.spike_exp, "state_exp": n.state_exp}
    if n.kind == "delta":
        return Delta(**common)
    return SigmaDelta(bias=0 if bias is None else bias, **common)


def _synapse(syn: Synapse, source_shape: tuple[int, ...], layer: Layer) -> AbstractProcess:
    bits = syn.num_message_bits or 0
    if syn.delay:
        raise UnsupportedError(f"layer {layer.name!r}: a whole-edge delay in a stream network")
    name = f"{layer.name}<-{syn.source}"
    if syn.kind == "conv":
        return Conv(weight=conv_weight(syn.weight).astype(np.int32), input_shape=lava_shape(source_shape),
                    padding=syn.padding[::-1], stride=syn.stride[::-1], dilation=syn.dilation[::-1],
                    groups=syn.groups, num_message_bits=bits, name=name)
    args = {"weights": syn.weight.astype(np.int32), "weight_exp": syn.weight_exp,
            "num_weight_bits": syn.weight_bits, "num_message_bits": bits, "name": name}
    if syn.delays is not None:
        return DelayDense(delays=syn.delays.astype(int), max_delay=MAX_DELAY, **args)
    return Dense(**args)


def _in_port(neuron: AbstractProcess, syn: Synapse) -> InPort:
    """The neuron input the synapse drives: `a_in`, or a resonator's `a_real_in` / `a_imag_in`."""
    if isinstance(neuron, RF):  # RF_IZ subclasses RF
        return neuron.a_imag_in if syn.port == "imag" else neuron.a_real_in
    return neuron.a_in


def _port(port: OutPort, syn: Synapse, source_shape: tuple[int, ...]) -> OutPort:
    """Dense from a spatial layer reads netx's `transpose([2, 1, 0]).flatten()` (PyTorch C, H, W order)."""
    return port.transpose([2, 1, 0]).flatten() if syn.kind == "dense" and len(source_shape) == 3 else port


def run_stream_lava(net: Network, frames: np.ndarray, record: Iterable[str] | None = None
                    ) -> dict[str, np.ndarray]:
    """Each sample of `frames` (N, C, H, W, S) through a fresh Lava graph of `net` for S steps
    (`Loihi2SimCfg(select_tag='fixed_pt')`); returns {layer: (N, *IR shape, S)} for `record` (default:
    the output)."""
    net.validate()
    names = [net.output] if record is None else list(record)
    per_sample = [_run_one(net, sample, names) for sample in np.asarray(frames)]
    return {name: np.stack([done[name] for done in per_sample]) for name in names}


def build_stream_graph(net: Network, frames: np.ndarray, names: list[str]
                       ) -> tuple[io.source.RingBuffer, dict[str, io.sink.RingBuffer]]:
    """Processes for one sample `frames` (C, H, W, S): the source that drives them and a sink per layer in
    `names` holding S steps."""
    steps = frames.shape[-1]
    first = next(s for s in net.layers[0].synapses if s.source == INPUT)
    flat_input = first.kind == "dense"
    data = frames.reshape(-1, steps) if flat_input else frames.transpose(2, 1, 0, 3)
    if first.num_message_bits:
        data = data.astype(np.int32)  # Lava Dense shifts its integer sums
    source = io.source.RingBuffer(data=data)
    ports: dict[str, OutPort] = {INPUT: source.s_out}
    shapes = {INPUT: (int(np.prod(net.input_shape)),) if flat_input else tuple(net.input_shape)}
    for layer in net.layers:
        neuron = _neuron(layer)
        ports[layer.name], shapes[layer.name] = neuron.s_out, layer.shape
        for syn in layer.synapses:
            conn = _synapse(syn, shapes[syn.source], layer)
            _port(ports[syn.source], syn, shapes[syn.source]).connect(conn.s_in)
            conn.a_out.connect(_in_port(neuron, syn))
    sinks = {}
    for name in names:
        sinks[name] = io.sink.RingBuffer(shape=lava_shape(net.shape_of(name)), buffer=steps)
        ports[name].connect(sinks[name].a_in)
    return source, sinks


def ir_order(net: Network, name: str, data: np.ndarray) -> np.ndarray:
    """A sink's (Lava shape..., S) record of layer `name` as (*IR shape, S)."""
    shape = net.shape_of(name)
    return data.transpose(*reversed(range(len(shape))), len(shape)).reshape(*shape, data.shape[-1])


def _run_one(net: Network, frames: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    source, sinks = build_stream_graph(net, frames, names)
    try:
        source.run(condition=RunSteps(num_steps=frames.shape[-1]),
                   run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return {name: ir_order(net, name, sink.data.get()) for name, sink in sinks.items()}
    finally:
        source.stop()
