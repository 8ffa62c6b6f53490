"""Read a lava-dl netx HDF5 network (`block.export_hdf5` output, trained elsewhere) into the integer IR.

lava-dl's own reader (`lava.lib.dl.netx.hdf5.Network`) goes straight to Lava processes, so the emulator, the
energy model and our other targets could not see the network; we read the layout it defines with h5py:
`layer/<i>/{type, shape, weight, stride, padding, dilation, groups, bias, delay, neuron/{type, iDecay, vDecay,
vThMant, refDelay, gradedSpike}}`, shapes in PyTorch `C, H, W` order, conv weights `(out, in/groups, kh, kw)`,
dense weights `(out, in)` with `in` in `C, H, W` flatten order (the IR's own conventions, so no reordering).

Neuron parameters map as netx maps them onto Lava's LIF: `iDecay → i_decay`, `vDecay → v_decay`,
`vThMant → vth_mant`, `bias → bias_mant` with `bias_exp = 6`. Weights are kept as stored (SLAYER's
descaled 8-bit grid) with `weight_exp = 0`, which is what netx's weight-bit optimisation computes on the chip.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from tmkt_common.errors import UnsupportedError
from tmkt_common.graph import INPUT

from ..ir import Cuba, Layer, Network, Synapse

NETX_BIAS_EXP = 6  # netx's `get_neuron_params` sets bias_exp = 6 for CUBA neurons
NEURON_TYPES = ("CUBA", "LOIHI")


def _text(value: object) -> str:
    """netx stores strings as 1-element `S10` arrays or scalar bytes objects."""
    value = np.asarray(value).ravel()[0] if np.ndim(value) else value
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _pair(group: h5py.Group, key: str, default: int) -> tuple[int, int]:
    if key not in group:
        return (default, default)
    value = np.asarray(group[key][()]).ravel()
    return (int(value[0]), int(value[-1]))


def _integer_weight(group: h5py.Group, where: str) -> np.ndarray:
    if "weight" not in group or not isinstance(group["weight"], h5py.Dataset):
        raise UnsupportedError(where, "no real-valued 'weight' dataset (complex or missing synapse)")
    weight = np.asarray(group["weight"][()])
    if not np.array_equal(weight, np.round(weight)):
        raise UnsupportedError(where, "weights are not integers (not exported via SLAYER's quantize_8bit)")
    return weight.astype(np.int16)


def _neuron(group: h5py.Group, where: str) -> Cuba:
    if "neuron" not in group:
        raise UnsupportedError(where, "no neuron: a synapse-only block (dynamics=False) is no IR layer")
    params = group["neuron"]
    kind = _text(params["type"][()])
    if kind not in NEURON_TYPES:
        raise UnsupportedError(where, f"neuron type {kind!r} is not CUBA-LIF (the IR holds {NEURON_TYPES})")
    bias = 0
    if "bias" in group:
        values = np.unique(np.asarray(group["bias"][()]))
        if values.size != 1:
            raise UnsupportedError(where, "per-neuron biases differ; the IR holds one bias per layer")
        bias = int(values[0])

    def get(key: str, default: int) -> int:
        return int(np.asarray(params[key][()])) if key in params else default

    return Cuba(i_decay=get("iDecay", 0), v_decay=get("vDecay", 0), vth_mant=get("vThMant", 0),
                bias_mant=bias, bias_exp=NETX_BIAS_EXP if bias else 0, ref_delay=get("refDelay", 1),
                graded=bool(get("gradedSpike", 0)))


def _check_no_delay(group: h5py.Group, where: str) -> None:
    if "delay" in group and np.any(np.asarray(group["delay"][()]) != 0):
        raise UnsupportedError(where, "learned per-synapse axonal delays are not representable in the IR")


class _Reader:
    """Walks `layer/<i>` in order, keeping the previous layer and its shape (netx files are chains)."""

    def __init__(self, input_shape: tuple[int, int, int] | None) -> None:
        self.input_shape = input_shape
        self.layers: list[Layer] = []
        self.flatten_pending = False

    @property
    def source(self) -> str:
        return self.layers[-1].name if self.layers else INPUT

    def source_shape(self, where: str) -> tuple[int, ...]:
        if self.layers:
            return self.layers[-1].shape
        if self.input_shape is None:
            raise UnsupportedError(where, "the file has no input layer; pass input_shape=(C, H, W)")
        return self.input_shape

    def add(self, group: h5py.Group, where: str, name: str, shape: tuple[int, ...], syn: Synapse) -> None:
        self.check_shape(group, where, shape)
        self.layers.append(Layer(name=name, shape=tuple(int(s) for s in shape), neuron=_neuron(group, where),
                                 synapses=[syn]))

    def read_input(self, group: h5py.Group, where: str) -> None:
        if "neuron" in group:
            raise UnsupportedError(where, "an input layer with its own neurons (lava-dl block.*.Input) is "
                                   "not supported; the IR feeds graded input straight into the first synapse")
        if "shape" in group:
            shape = tuple(int(s) for s in np.asarray(group["shape"][()]).ravel())
            self.input_shape = (shape + (1, 1))[:3] if len(shape) < 3 else shape

    def read_conv(self, group: h5py.Group, where: str, name: str) -> None:
        in_shape = self.source_shape(where)
        if len(in_shape) != 3:
            raise UnsupportedError(where, f"conv after a flat layer of shape {in_shape}")
        _check_no_delay(group, where)
        weight = _integer_weight(group, where)
        weight = weight.reshape(weight.shape[:4])
        syn = Synapse(source=self.source, kind="conv", weight=weight, stride=_pair(group, "stride", 1),
                      padding=_pair(group, "padding", 0), dilation=_pair(group, "dilation", 1),
                      groups=int(np.asarray(group["groups"][()])) if "groups" in group else 1)
        self.add(group, where, name, syn.output_shape(in_shape), syn)

    def read_pool(self, group: h5py.Group, where: str, name: str) -> None:
        in_shape = self.source_shape(where)
        _check_no_delay(group, where)
        kernel = _integer_weight(group, where)
        if kernel.ndim < 4 or kernel.shape[:2] != (1, 1):
            raise UnsupportedError(where, f"pool weight of shape {kernel.shape}; expected (1, 1, kh, kw)")
        kernel = kernel.reshape(kernel.shape[2:4])
        channels = in_shape[0]
        weight = np.broadcast_to(kernel, (channels, 1, *kernel.shape)).copy()
        syn = Synapse(source=self.source, kind="conv", weight=weight, stride=_pair(group, "stride", 1),
                      padding=_pair(group, "padding", 0), dilation=_pair(group, "dilation", 1),
                      groups=channels, role="pool")
        self.add(group, where, name, syn.output_shape(in_shape), syn)

    def read_flatten(self, group: h5py.Group, where: str, name: str) -> None:
        self.flatten_pending = True  # folded into the next dense synapse (its weights are in C,H,W order)

    def read_dense(self, group: h5py.Group, where: str, name: str) -> None:
        _check_no_delay(group, where)
        weight = _integer_weight(group, where)
        if not self.layers and self.input_shape is None and weight.ndim == 2:
            self.input_shape = (weight.shape[1], 1, 1)  # a dense-first chain fixes its own input size
        in_shape = self.source_shape(where)
        if weight.ndim != 2:
            raise UnsupportedError(where, f"dense weight of shape {weight.shape}; expected (out, in)")
        if len(in_shape) == 3 and in_shape[1:] != (1, 1) and not self.flatten_pending:
            raise UnsupportedError(where, f"dense after a spatial layer {in_shape} without a flatten layer")
        self.flatten_pending = False
        syn = Synapse(source=self.source, kind="dense", weight=weight)
        self.add(group, where, name, (weight.shape[0],), syn)

    @staticmethod
    def check_shape(group: h5py.Group, where: str, shape: tuple[int, ...]) -> None:
        if "shape" not in group:
            return
        stored = tuple(int(s) for s in np.asarray(group["shape"][()]).ravel())
        if int(np.prod(stored)) != int(np.prod(shape)) or (len(stored) == len(shape) and stored != shape):
            raise UnsupportedError(where, f"stored shape {stored} disagrees with the computed shape {shape}")


def read_netx(path: str | os.PathLike, *, input_shape: tuple[int, int, int] | None = None,
              time_steps: int = 10, name: str | None = None) -> Network:
    """Read a netx HDF5 chain into a validated IR `Network`.

    `input_shape` (C, H, W) is needed only when the file has no input layer and starts with a conv; netx files
    do not record a sample length, so `time_steps` (frames per sample) comes from the caller. Raises
    `UnsupportedError` naming `FILE layer i (type)` for anything the IR cannot hold.
    """
    path = Path(path)
    reader = _Reader(tuple(input_shape) if input_shape else None)
    handlers: dict[str, Callable[[h5py.Group, str, str], None]] = {
        "conv": reader.read_conv, "pool": reader.read_pool, "flatten": reader.read_flatten,
        "dense": reader.read_dense,
    }
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
            kind = _text(layer["type"][()]) if "type" in layer else "?"
            where = f"{path.name} layer {i} ({kind})"
            if kind == "input":
                if reader.layers:
                    raise UnsupportedError(where, "input layer after other layers")
                reader.read_input(layer, where)
            elif kind in handlers:
                handlers[kind](layer, where, f"{kind}{i}")
            else:
                raise UnsupportedError(where, f"layer type {kind!r} is not supported (IR chains hold "
                                       f"{sorted(handlers)})")
    if not reader.layers:
        raise ValueError(f"{path}: no neuron layers")
    net = Network(name=name or path.stem, input_shape=tuple(reader.input_shape), time_steps=time_steps,
                  layers=reader.layers, output=reader.layers[-1].name,
                  meta={"source": "netx", "file": path.name})
    try:
        net.validate()  # weights against their inputs: layer i of the file is IR layer `<type><i>`
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return net
