"""Write a sequential IR in lava-dl's netx HDF5 layout, so Intel's `netx.hdf5.Network` loads our file.

The layout is the one SLAYER's `block.export_hdf5` writes (`layer/<i>/{type, shape, weight, neuron/...}`,
shapes in PyTorch order, conv weights (out, in/g, kh, kw), neuron `iDecay`/`vDecay`/`vThMant`); we write it
from the IR with h5py because the IR, not a torch module, is what every target reads. Pooling goes in as a
depthwise `conv` (netx has no pool layer); a `flatten` entry precedes a dense layer that reads a spatial one.
netx only chains layers, so residual graphs, edge delays and biases are refused with the layer named.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from tmkt_common.atomic import atomic_write
from tmkt_common.errors import UnsupportedError

from ..ir import INPUT, Layer, Network


def sequential_problem(net: Network) -> str | None:
    """Why netx cannot hold `net` (None if it can)."""
    previous = INPUT
    for layer in net.layers:
        if len(layer.synapses) != 1:
            return (f"layer {layer.name!r} sums {len(layer.synapses)} synapses (residual); netx only chains "
                    "layers")
        syn = layer.synapses[0]
        if syn.source != previous:
            return f"layer {layer.name!r} reads {syn.source!r}, not the layer before it ({previous!r})"
        if syn.delay:
            return f"layer {layer.name!r} has an edge delay of {syn.delay}; netx has no per-edge delay"
        if layer.neuron.bias_mant:
            return f"layer {layer.name!r} has a bias; SLAYER's CUBA export has none to match"
        previous = layer.name
    if net.output != previous:
        return f"the output {net.output!r} is not the last layer"
    return None


def _neuron(group: h5py.Group, layer: Layer) -> None:
    n = layer.neuron
    for key, value in (("type", "CUBA"), ("iDecay", n.i_decay), ("vDecay", n.v_decay),
                       ("vThMant", n.vth_mant), ("refDelay", n.ref_delay), ("gradedSpike", n.graded)):
        group.create_dataset(f"neuron/{key}", data=value)


def _write_layer(group: h5py.Group, layer: Layer, source_shape: tuple[int, ...]) -> None:
    syn = layer.synapses[0]
    group.create_dataset("shape", data=np.array(layer.shape))
    if syn.kind == "dense":
        group.create_dataset("type", (1,), "S10", [b"dense"])
        group.create_dataset("inFeatures", data=int(np.prod(source_shape)))
        group.create_dataset("outFeatures", data=layer.shape[0])
    else:
        group.create_dataset("type", (1,), "S10", [b"conv"])
        group.create_dataset("inChannels", data=source_shape[0])
        group.create_dataset("outChannels", data=layer.shape[0])
        group.create_dataset("kernelSize", data=np.array(syn.weight.shape[2:]))
        for key, value in (("stride", syn.stride), ("padding", syn.padding), ("dilation", syn.dilation)):
            group.create_dataset(key, data=np.array(value))
        group.create_dataset("groups", data=syn.groups)
    group.create_dataset("weight", data=syn.weight.astype(np.float32) * 2.0 ** syn.weight_exp)
    _neuron(group, layer)


def write_netx(net: Network, path: str | os.PathLike) -> Path:
    """Write `net` to `path` (netx HDF5); raises UnsupportedError naming the layer netx cannot chain."""
    problem = sequential_problem(net)
    if problem:
        raise UnsupportedError(f"{net.name}: no netx file: {problem}")
    path = Path(path)
    with atomic_write(path, "w+b") as f, h5py.File(f, "w") as handle:
        layers = handle.create_group("layer")
        first = net.layers[0].synapses[0]
        in_shape = tuple(net.input_shape) if first.kind == "conv" else (int(np.prod(net.input_shape)),)
        entry = layers.create_group("0")
        entry.create_dataset("type", (1,), "S10", [b"input"])
        entry.create_dataset("shape", data=np.array(in_shape))
        index, source_shape = 1, tuple(net.input_shape)
        for layer in net.layers:
            if layer.synapses[0].kind == "dense" and len(source_shape) == 3 and layer is not net.layers[0]:
                layers.create_group(str(index)).create_dataset("type", (1,), "S10", [b"flatten"])
                index += 1
            _write_layer(layers.create_group(str(index)), layer, source_shape)
            index, source_shape = index + 1, layer.shape
    return path
