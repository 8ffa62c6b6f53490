"""Read a lava-dl netx HDF5 network (`export_hdf5` output, trained elsewhere) into the integer IR, holding
exactly what lava-dl 0.6's `lava.lib.dl.netx.hdf5.Network` builds from the file.

netx goes straight to Lava processes, so the emulator and the energy report could not see the network; we
read the layout it reads (h5py) and mirror its `create_*` methods parameter for parameter:
- `input` with a neuron: the neuron, fed through the block's scalar `weight` (and its `bias`) as SLAYER's
  Input block computes them. netx builds this block with its input port unconnected ("the input must be
  handled through the neuron's bias") and lava-nc 0.10 cannot compile it; we keep one step of synaptic
  latency, as every netx block has (SLAYER's `delay_shift`);
- `dense` / `dense_rec`: weights (1-D ones reshaped to (out, -1), as netx does) through netx's own
  `optimize_weight_bits` (weights, `num_weight_bits`, `weight_exponent`; one shared for the recurrent pair),
  axonal `delay` clipped to 62 and broadcast as netx does (Lava `DelayDense`); a dense block without a
  neuron gets netx's default non-leaky integrator;
- `conv`: raw weights, stride/padding/dilation/groups; `flatten` (PyTorch C, H, W order, as netx's
  transpose + flatten);
- neurons: CUBA/LOIHI → Lava `LIF`/`LIFReset` (`du = iDecay - 1`, `dv = vDecay`, `vth = vThMant`,
  `bias_exp = 6`, `messageBits`; netx reads neither `gradedSpike` nor `refDelay`, so neither changes the
  dynamics), per-neuron or per-channel `bias`; SDNN → `Delta` (input layer), `SigmaDelta`, or `Sigma` (with
  `sigma_output`), with netx's `spike_exp` argument, `state_exp = 6` and default 16 message bits;
  RF neurons in a dense block with complex weights (`weight/real`, `weight/imag`) → netx's `ComplexDense` +
  Lava `RF` (RF_PHASE) or `RF_IZ` (other RF types) (`ir.Resonator`: each matrix through
  `optimize_weight_bits`, period and decay from sinDecay/cosDecay by SLAYER's `neuron_params`,
  `state_exp = 6`, 12 decay bits; no bias, no delay).

What netx itself refuses or cannot build (pool, convT, unpool, average, concat, dense_comp, conv without a
neuron, ADRF/ALIF neurons, RF neurons outside a complex dense block) is collected over the whole file and
raised as ONE `UnsupportedError` listing each layer (index, type, feature).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from tmkt_common.errors import UnsupportedError
from tmkt_common.graph import INPUT

from ..ir import Cuba, Layer, Network, Resonator, SigmaDelta, Synapse

NETX_BIAS_EXP = 6  # netx's `get_neuron_params` sets bias_exp = 6 for CUBA neurons
NETX_STATE_EXP = 6
NETX_MAX_DELAY = 62
CUBA_TYPES = ("CUBA", "LOIHI")
UNBUILT_TYPES = ("pool", "convT", "unpool", "average", "concat", "dense_comp")
# netx builds RF_PHASE as lava.proc.rf.RF and other RF types as RF_IZ, behind a ComplexDense (two Dense
# synapses into the neuron's real and imaginary inputs): `ir.Resonator`. Elsewhere it cannot wire them.
RF_REFUSED = "netx builds them only in a dense block with complex weights, without recurrence"
NETX_RF_DECAY_BITS = 12
# netx's create_dense default neuron for a synapse-only block (note its `1 << 18 - 1` is 1 << 17)
INTEGRATOR = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}


@dataclass(frozen=True)
class NetxOptions:
    """The arguments of `netx.hdf5.Network` that change what it builds (same names and defaults)."""

    input_message_bits: int = 0
    reset_interval: int | None = None
    reset_offset: int = 0
    spike_exp: int = 6


def _text(value: object) -> str:
    """netx stores strings as 1-element `S10` arrays or scalar bytes objects."""
    value = np.asarray(value).ravel()[0] if np.ndim(value) else value
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _get(group: h5py.Group | dict, key: str, default: object = None) -> object:
    if key not in group:
        return default
    value = group[key]
    return value[()] if isinstance(value, h5py.Dataset) else value


def _pair(group: h5py.Group, key: str, default: int) -> tuple[int, int]:
    """netx's `expand`: a scalar → (v, v); stored arrays are (H, W) like PyTorch."""
    value = _get(group, key)
    if value is None:
        return (default, default)
    value = np.asarray(value).ravel()
    return (int(value[0]), int(value[-1]))


def _shape(group: h5py.Group) -> tuple[int, ...] | None:
    value = _get(group, "shape")
    return None if value is None else tuple(int(s) for s in np.asarray(value).ravel())


class _Problems(list):
    """Every unsupported feature of the file, one `layer i (type) [name]: feature` entry each."""

    def add(self, where: str, feature: str) -> None:
        self.append(f"{where}: {feature}")


class _Reader:
    """Walks `layer/<i>` in order, as netx's `_create` does, keeping the last built layer and its shape."""

    def __init__(self, input_shape: tuple[int, ...] | None, options: NetxOptions,
                 problems: _Problems) -> None:
        self.input_shape = input_shape
        self.options = options
        self.problems = problems
        self.layers: list[Layer] = []
        self.flatten_pending = False
        self.flat_input: bool | None = None  # netx's inp is (k,) rather than (x, y, c)
        self.message_bits = options.input_message_bits  # of what the next block receives
        self.reset_offset = options.reset_offset + 1  # netx: "time starts from 1 in hardware"

    @property
    def source(self) -> str:
        return self.layers[-1].name if self.layers else INPUT

    def source_shape(self) -> tuple[int, ...] | None:
        return self.layers[-1].shape if self.layers else self.input_shape

    # --- neurons ---------------------------------------------------------------------------------------

    def neuron(self, params: h5py.Group | dict, where: str, *, is_input: bool = False,
               complex_input: bool = False) -> Cuba | SigmaDelta | Resonator | None:
        kind = _text(_get(params, "type", b"?"))
        if "RF" in kind and complex_input:
            from lava.lib.dl.slayer.neuron.rf import neuron_params  # what netx's get_neuron_params calls

            rf = neuron_params({key: _get(params, key) for key in ("sinDecay", "cosDecay", "vThMant")})
            return Resonator(kind="rf" if "PHASE" in kind else "rf_iz",
                             vth_mant=int(np.asarray(_get(params, "vThMant"))), period=float(rf["period"]),
                             alpha=float(rf["decay"]), state_exp=NETX_STATE_EXP,
                             decay_bits=NETX_RF_DECAY_BITS)
        bits = _get(params, "messageBits")
        vth = int(np.asarray(_get(params, "vThMant", 0)))
        if kind in CUBA_TYPES:
            interval = self.options.reset_interval
            return Cuba(i_decay=int(np.asarray(_get(params, "iDecay", 0))),
                        v_decay=int(np.asarray(_get(params, "vDecay", 0))), vth_mant=vth,
                        bias_exp=NETX_BIAS_EXP, message_bits=int(bits or 0), reset_interval=interval or 0,
                        reset_offset=self.reset_offset % interval if interval else 0)
        if kind == "SDNN":
            sd = "delta" if is_input else "sigma" if "sigma_output" in params else "sigma_delta"
            return SigmaDelta(kind=sd, vth_mant=vth, spike_exp=self.options.spike_exp,
                              state_exp=NETX_STATE_EXP, message_bits=int(16 if bits is None else bits))
        feature = f"resonate-and-fire neurons {kind} ({RF_REFUSED})" if "RF" in kind else \
            f"neuron type {kind!r} (netx builds CUBA/LOIHI, SDNN and RF neurons only)"
        self.problems.add(where, feature)
        return None

    def bias(self, group: h5py.Group, shape: tuple[int, ...], where: str) -> np.ndarray | None:
        """netx's `AbstractBlock._neuron`: a scalar, a per-neuron bias in netx's neuron shape ((N,), or
        (x, y, c) for conv) or a per-channel bias, as int32 mantissas in the IR's shape."""
        value = _get(group, "bias")
        if value is None:
            return None
        bias = np.asarray(value).astype(int)
        if bias.size == 1:
            return np.full(shape, int(bias.ravel()[0]), dtype=np.int32)
        if len(shape) == 1 and bias.size == shape[0]:
            return bias.reshape(shape).astype(np.int32)
        if len(shape) == 3 and bias.shape == tuple(reversed(shape)):  # (x, y, c) = (W, H, C)
            return np.ascontiguousarray(bias.transpose(2, 1, 0)).astype(np.int32)
        if len(shape) == 3 and bias.ndim == 1 and bias.size == shape[0]:  # per channel
            return np.broadcast_to(bias[:, None, None], shape).astype(np.int32)
        self.problems.add(where, f"bias of shape {bias.shape} for neurons of shape {shape} (netx takes a "
                          "scalar, a per-neuron bias in its (x, y, c) / (N,) shape, or one per channel)")
        return None

    def add(self, group: h5py.Group, where: str, name: str, shape: tuple[int, ...],
            neuron: Cuba | SigmaDelta | None, synapses: list[Synapse]) -> None:
        stored = _shape(group)
        if stored is not None and int(np.prod(stored)) != int(np.prod(shape)):
            self.problems.add(where, f"stored shape {stored} disagrees with the computed shape {shape}")
            return
        if neuron is None:
            return
        bias = None if isinstance(neuron, Resonator) else self.bias(group, shape, where)  # netx: none for RF
        self.layers.append(Layer(name=name, shape=tuple(int(s) for s in shape), neuron=neuron,
                                 synapses=synapses, bias=bias))
        self.message_bits = neuron.message_bits
        self.reset_offset += 1

    # --- blocks ----------------------------------------------------------------------------------------

    def read_input(self, group: h5py.Group, where: str, name: str) -> None:
        shape = _shape(group)
        if shape is None:
            self.problems.add(where, "an input layer without a shape")
            return
        self.flat_input = len(shape) == 1
        shape = (shape + (1, 1))[:3] if len(shape) < 3 else shape
        if "neuron" not in group:
            self.input_shape = shape
            return
        neuron = self.neuron(group["neuron"], where, is_input=True)
        self.input_shape = shape
        scale = int(np.asarray(_get(group, "weight", 64)).ravel()[0])
        channels = shape[0]
        syn = Synapse(source=INPUT, kind="conv", weight=np.full((channels, 1, 1, 1), scale, dtype=np.int32),
                      groups=channels, num_message_bits=self.message_bits)
        self.add(group, where, name, shape, neuron, [syn])

    def read_conv(self, group: h5py.Group, where: str, name: str) -> None:
        in_shape = self.source_shape()
        if in_shape is None or len(in_shape) != 3:
            self.problems.add(where, "conv without a known (C, H, W) input: pass input_shape (--input-shape)"
                              if in_shape is None else f"conv after a flat layer of shape {in_shape}")
            return
        if "neuron" not in group:
            self.problems.add(where, "conv without a neuron (netx builds conv blocks with neurons only)")
            return
        if self.flat_input is None:
            self.flat_input = False
        weight = np.asarray(_get(group, "weight")).astype(int)
        weight = weight.reshape(weight.shape[:4]).astype(np.int32)
        syn = Synapse(source=self.source, kind="conv", weight=weight, stride=_pair(group, "stride", 1),
                      padding=_pair(group, "padding", 0), dilation=_pair(group, "dilation", 1),
                      groups=int(np.asarray(_get(group, "groups", 1)).ravel()[0]),
                      num_message_bits=self.message_bits)
        neuron = self.neuron(group["neuron"], where)
        self.add(group, where, name, syn.output_shape(in_shape), neuron, [syn])

    def read_flatten(self, group: h5py.Group, where: str, name: str) -> None:
        self.flatten_pending = True  # netx: transpose([2, 1, 0]).flatten(), i.e. PyTorch's C, H, W order

    def read_dense(self, group: h5py.Group, where: str, name: str, recurrent: bool = False) -> None:
        from lava.lib.dl.netx.utils import optimize_weight_bits  # netx's own weight mapping

        complex_weights = "weight/imag" in group
        if complex_weights:
            kind = _text(_get(group["neuron"], "type", b"?")) if "neuron" in group else "no neuron"
            if "RF" not in kind or recurrent:
                self.problems.add(where, f"complex weights with {kind} neurons ({RF_REFUSED})")
                return
        key = "weight/real" if complex_weights else "weight"
        if not isinstance(group.get(key), h5py.Dataset):
            self.problems.add(where, "no dense weights")
            return
        out = int(np.prod(_shape(group) or (len(group[key]),)))
        weight = _dense_weight(group, key, out)
        if not self.layers and self.flat_input is None:
            self.flat_input = True
            self.input_shape = self.input_shape or (weight.shape[1], 1, 1)  # a dense-first chain's input
        in_shape = self.source_shape()
        if len(in_shape) == 3 and in_shape[1:] != (1, 1) and not self.flatten_pending:
            self.problems.add(where, f"dense after a spatial layer {in_shape} without a flatten layer")
        self.flatten_pending = False
        if complex_weights:  # netx's ComplexDense: each matrix optimised on its own, no delay, no bias
            synapses = []
            for port, matrix in (("real", weight), ("imag", _dense_weight(group, "weight/imag", out))):
                matrix, bits, exp, _ = optimize_weight_bits(matrix)
                synapses.append(Synapse(source=self.source, kind="dense", weight=matrix.astype(np.int32),
                                        weight_exp=exp, weight_bits=bits, num_message_bits=self.message_bits,
                                        port=port))
            self.add(group, where, name, (out,), self.neuron(group["neuron"], where, complex_input=True),
                     synapses)
            return
        if recurrent:
            rec = np.asarray(group["weight_rec"][()]).astype(int).reshape(out, -1)
            both, bits, exp, _ = optimize_weight_bits(np.hstack((weight, rec)))
            weight, rec = both[:, :weight.shape[1]], both[:, weight.shape[1]:]
        else:
            weight, bits, exp, _ = optimize_weight_bits(weight)
        delays = self.delays(group, weight.shape, where)
        if recurrent and delays is not None:
            exp = 0  # netx's RecurrentDense builds its DelayDense pair without the weight exponent ...
            if delays.shape != rec.shape:  # ... and gives the recurrent one the input synapse's delays
                self.problems.add(where, f"delays {delays.shape} on a recurrent block with recurrent "
                                  f"weights {rec.shape} (netx gives both synapses the same delays)")
                return
        common = {"kind": "dense", "weight_exp": exp, "weight_bits": bits, "delays": delays}
        synapses = [Synapse(source=self.source, weight=weight.astype(np.int32),
                            num_message_bits=self.message_bits, **common)]
        neuron = self.neuron(group["neuron"] if "neuron" in group else INTEGRATOR, where)
        if recurrent and neuron is not None:
            synapses.append(Synapse(source=name, weight=rec.astype(np.int32),
                                    num_message_bits=neuron.message_bits, **common))
        self.add(group, where, name, (out,), neuron, synapses)

    def delays(self, group: h5py.Group, shape: tuple[int, int], where: str) -> np.ndarray | None:
        """netx's delay handling in `create_dense`: clip to 62, a scalar or a per-output/per-input vector
        broadcast over the weights."""
        value = _get(group, "delay")
        if value is None:
            return None
        delay = np.clip(np.asarray(value).astype(int), 0, NETX_MAX_DELAY)
        if delay.ndim == 0:
            delay = np.full(shape, int(delay))
        elif delay.ndim == 1 and delay.size == shape[0]:
            delay = np.repeat(delay.reshape(-1, 1), shape[1], axis=1)
        elif delay.ndim == 1 and delay.size == shape[1]:
            delay = np.repeat(delay.reshape(1, -1), shape[0], axis=0)
        elif delay.shape != shape:
            self.problems.add(where, f"delay of shape {delay.shape} does not fit weights {shape}")
            return None
        return delay.astype(np.int32)


def _dense_weight(group: h5py.Group, key: str, out: int) -> np.ndarray:
    """A dense block's weight matrix (out, in), 1-D ones reshaped as netx does."""
    weight = np.asarray(group[key][()]).astype(int)
    return weight.reshape(out, -1) if weight.ndim == 1 else weight.reshape(weight.shape[0], -1)


def read_netx(path: str | os.PathLike, *, input_shape: tuple[int, int, int] | None = None,
              time_steps: int = 10, name: str | None = None, options: NetxOptions | None = None) -> Network:
    """Read a netx HDF5 chain into a validated IR `Network` with `timing="stream"` (netx's free run).

    `input_shape` (C, H, W) is needed only when the file has no input layer and starts with a conv; netx files
    do not record a sample length, so `time_steps` (frames per sample) comes from the caller. `options`:
    netx's `input_message_bits`, `reset_interval`, `reset_offset` and `spike_exp`. Raises ONE
    `UnsupportedError` listing every layer netx (or we) cannot build, ValueError for an unreadable file.
    """
    path = Path(path)
    options = options or NetxOptions()
    problems = _Problems()
    reader = _Reader(tuple(input_shape) if input_shape else None, options, problems)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc
    with handle:
        if "layer" not in handle:
            raise ValueError(f"{path}: no 'layer' group; not a lava-dl netx file")
        group = handle["layer"]
        for i in sorted(int(k) for k in group.keys()):
            layer = group[str(i)]
            kind = _text(_get(layer, "type", b"?"))
            where = f"layer {i} ({kind})"
            if kind == "input":
                if reader.layers:
                    problems.add(where, "an input layer after other layers")
                else:
                    reader.read_input(layer, where, f"input{i}")
            elif kind == "conv":
                reader.read_conv(layer, where, f"conv{i}")
            elif kind == "flatten":
                reader.read_flatten(layer, where, f"flatten{i}")
            elif kind in ("dense", "dense_rec"):
                reader.read_dense(layer, where, f"{kind}{i}", recurrent=kind == "dense_rec")
            elif kind in UNBUILT_TYPES:
                problems.add(where, f"layer type {kind!r} (netx raises NotImplementedError for it)")
            else:
                problems.add(where, f"unknown layer type {kind!r}")
    if problems:
        raise UnsupportedError(str(path), f"{len(problems)} unsupported feature(s): " + "; ".join(problems))
    if not reader.layers:
        raise ValueError(f"{path}: no neuron layers")
    net = Network(name=name or path.stem, input_shape=tuple(reader.input_shape), time_steps=time_steps,
                  layers=reader.layers, output=reader.layers[-1].name, timing="stream",
                  input_bits=max(8, options.input_message_bits),
                  meta={"source": "netx", "file": path.name, "netx_options": options.__dict__,
                        "netx_flat_input": reader.flat_input})
    try:
        net.validate()  # weights against their inputs: layer i of the file is IR layer `<type><i>`
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return net
