"""SLAYER CUBA blocks / a `SpikingNet` → the integer IR, using SLAYER's own quantization.

Nothing here re-derives a number: weights are `neuron.quantize_8bit(weight, descale=True)` (what SLAYER's
forward uses, times `w_scale`), decays/threshold are `neuron.device_params`, the weight exponent is
`neuron.weight_exponent`. The walk over the graph (flatten folding, pool as a synapse, residual fan-in, edge
delays) is ours because lava-dl only exports sequential chains.

How SLAYER's integer CUBA dynamics map onto Lava's fixed-point processes (checked spike for spike by
tests/test_deploy_lava.py; any difference is a bug):

- Scales. A SLAYER cuba neuron has `w_scale = scale = 64`, `s_scale = scale * 64 = 4096`, `p_scale = 4096`.
  `quantize_8bit` rounds weights to steps of `2 / w_scale` and clamps to `[-256, 254] / w_scale`, so
  `w_int = w * w_scale` is an even integer in [-256, 254]: exactly an 8-bit MIXED-sign Lava weight
  (`clip_weights`/`truncate_weights` with 8 bits keep even values unchanged). `weight_exponent` =
  `log2(s_scale / w_scale) - 6` = 0 for every `scale`.
- Synaptic input. SLAYER's leaky integrator computes `trunc(s_scale * sum(w_int / w_scale * s))` =
  `64 * sum(w_int * s)` (exact in float32 for these ranges). Lava `Dense`/`Conv` send `a = sum(w_int * s)`
  (Dense shifts by `weight_exp` = 0) and `PyLifModelBitAcc` adds `a << act_shift` (= 6): the same integer.
  Graded input spikes `s = q` in 0..255 work the same way (Dense/Conv with `num_message_bits=8`).
- Current decay. SLAYER: `u = rtz(u * (4096 - iDecay) / 4096) + input` (rtz = round toward zero). Lava:
  `u = rtz(u * (4096 - (du + ds_offset)) >> 12) + a_in << 6` with `ds_offset = 1`, so `du = iDecay - 1`
  (netx does the same; `du = -1` gives an undecayed current exactly). `Cuba.i_decay` stores SLAYER's `iDecay`;
  the builder subtracts the offset.
- Voltage decay. Same form with `dm_offset = 0`: `dv = vDecay` (`Cuba.v_decay`).
- Threshold. SLAYER spikes when `v >= (vth_mant / 64 + 0.01 / s_scale) * s_scale`, i.e. `v > vth_mant << 6`
  for integer `v`; Lava spikes when `v > vth << vth_shift` (6). So `vth = vThMant`. The `+0.01` survives
  SLAYER's float32 comparison only while `vth_mant < 4096`; larger thresholds are refused.
- Reset and latency. Both set `v = 0` after a spike, no refractory period. SLAYER shifts each layer's spikes
  by one step (`delay_shift`); Lava's Dense/Conv send at step t what they received at t-1. With the input sent
  from step 1, Lava's spike at step t (1-based) equals SLAYER's delayed output at index t-1, in every layer.
- Limits Lava has and SLAYER has not: `u` wraps at 24 bits, `v` saturates at +-(2^23 - 1), Conv clamps its
  output to 24 bits. A trained net far from these ranges is exact; the spike check catches the rest.

Not mappable (refused with the layer's name and why): neuron norm, per-channel decays, graded output spikes,
learnable axonal delays, synapses whose pre-hook is not the neuron's `quantize_8bit`, pools whose windows
would cross SLAYER's padding rule (odd sizes), ConvTranspose/Unpool/Average/Affine and any other block.
"""

from __future__ import annotations

import numpy as np
import torch

from tmkt_common.errors import UnsupportedError
from tmkt_common.graph import INPUT, pair
from tmkt_common.lavadl import import_slayer

from .ir import Cuba, Layer, Network, Synapse

block, synapse = import_slayer().block, import_slayer().synapse  # lava-dl, imported quietly

MAX_VTH_MANT = 4096  # SLAYER's threshold eps is lost in float32 beyond this (see module docstring)


def quantize_neuron(neuron: torch.nn.Module, name: str) -> Cuba:
    """SLAYER cuba neuron → integer `Cuba` from `neuron.device_params`."""
    if getattr(neuron, "norm", None) is not None:
        raise UnsupportedError(f"layer {name!r}: neuron normalisation ({type(neuron.norm).__name__}) has no "
                               "Loihi equivalent here; build the block without norm")
    if not neuron.shared_param:
        raise UnsupportedError(f"layer {name!r}: per-channel decays (shared_param=False); Lava's LIF takes "
                               "one du/dv per population")
    params = neuron.device_params
    if params["type"] != "CUBA":
        raise UnsupportedError(f"layer {name!r}: neuron type {params['type']!r}; only CUBA maps to "
                               "Lava's LIF")
    if params["gradedSpike"]:
        raise UnsupportedError(f"layer {name!r}: graded output spikes; Lava's LIF emits binary spikes")
    vth = int(params["vThMant"])
    if not 0 < vth < MAX_VTH_MANT:
        raise UnsupportedError(f"layer {name!r}: threshold mantissa {vth} outside 1..{MAX_VTH_MANT - 1}, "
                               "where SLAYER and Loihi agree on the spike condition")
    return Cuba(i_decay=int(params["iDecay"]), v_decay=int(params["vDecay"]), vth_mant=vth,
                ref_delay=int(params["refDelay"]), graded=False)


def quantize_weight(syn: torch.nn.Module, neuron: torch.nn.Module, name: str) -> np.ndarray:
    """Integer weights exactly as SLAYER's forward pass uses them (times `w_scale`)."""
    if syn.pre_hook_fx != neuron.quantize_8bit:
        raise UnsupportedError(f"layer {name!r}: synapse pre_hook_fx is not the neuron's quantize_8bit, so "
                               "its weights are not 8-bit chip weights")
    if getattr(syn, "weight_norm_enabled", False):
        raise UnsupportedError(f"layer {name!r}: weight norm is enabled; disable it before export")
    with torch.no_grad():
        w = neuron.quantize_8bit(syn.weight, descale=True).cpu().numpy()
    w_int = np.rint(w).astype(np.int16)
    if not np.array_equal(w_int, w):
        raise UnsupportedError(f"layer {name!r}: quantized weights are not integers (w_scale mismatch)")
    return w_int


def _conv_synapse(syn: synapse.Conv, w_int: np.ndarray, source: str, role: str) -> Synapse:
    return Synapse(source=source, kind="conv", weight=w_int[..., 0], stride=pair(syn.stride),
                   padding=pair(syn.padding), dilation=pair(syn.dilation), groups=int(syn.groups),
                   role=role)


def _pool_synapse(syn: synapse.Pool, w_int: np.ndarray, source: str, source_shape: tuple[int, ...],
                  name: str) -> Synapse:
    """SLAYER's sum-pool (a 1-channel conv over channels stacked along H) as a depthwise conv, groups=C."""
    if len(source_shape) != 3:
        raise UnsupportedError(f"layer {name!r}: pooling needs a spatial (C, H, W) input, got {source_shape}")
    c, h, w = source_shape
    kh, kw = int(syn.kernel_size[0]), int(syn.kernel_size[1])
    if pair(syn.stride) != (kh, kw) or pair(syn.padding) != (0, 0) or pair(syn.dilation) != (1, 1):
        raise UnsupportedError(f"layer {name!r}: only non-overlapping pools (stride = kernel, no padding or "
                               "dilation) keep SLAYER's channel-stacked pooling inside each channel")
    if h % kh or w % kw:
        raise UnsupportedError(f"layer {name!r}: input {h}x{w} is not a multiple of the pool kernel "
                               f"{kh}x{kw}; SLAYER pads odd sizes on one side only, which a Lava conv cannot "
                               "express")
    weight = np.broadcast_to(w_int[0, 0, :, :, 0], (c, 1, kh, kw)).copy()
    return Synapse(source=source, kind="conv", weight=weight, stride=(kh, kw), groups=c, role="pool")


def _dense_synapse(w_int: np.ndarray, source: str) -> Synapse:
    weight = w_int.reshape(w_int.shape[0], -1)  # SLAYER's conv3d weight order is PyTorch's C, H, W flatten
    return Synapse(source=source, kind="dense", weight=weight)


def _is_identity(syn: torch.nn.Module) -> bool:
    """A frozen 1x1 depthwise conv with equal weights: a residual shortcut, not a learned synapse."""
    w = syn.weight
    return (isinstance(syn, synapse.Conv) and not w.requires_grad and tuple(w.shape[2:]) == (1, 1, 1)
            and syn.groups == syn.in_channels == syn.out_channels and bool(torch.all(w == w.flatten()[0])))


def quantize_synapse(syn: torch.nn.Module, neuron: torch.nn.Module, *, name: str, source: str,
                     source_shape: tuple[int, ...], delay: int = 0) -> Synapse:
    """One SLAYER synapse feeding layer `name` from `source` (of IR shape `source_shape`) → IR `Synapse`."""
    w_int = quantize_weight(syn, neuron, name)
    if isinstance(syn, synapse.Pool):
        out = _pool_synapse(syn, w_int, source, source_shape, name)
    elif isinstance(syn, synapse.Conv):
        out = _conv_synapse(syn, w_int, source, "identity" if _is_identity(syn) else "weight")
    elif isinstance(syn, synapse.Dense):
        out = _dense_synapse(w_int, source)
    else:
        raise UnsupportedError(f"layer {name!r}: synapse {type(syn).__name__} has no Lava connection process "
                               "here (supported: Dense, Conv, Pool)")
    out.weight_exp = int(neuron.weight_exponent)
    out.delay = int(delay)
    return out


def _check_block(node: torch.nn.Module, name: str) -> None:
    if getattr(node, "delay", None) is not None:
        raise UnsupportedError(f"layer {name!r}: learnable axonal delays are not exported; build with "
                               "delay=False")
    if isinstance(node, block.cuba.Affine | block.cuba.Average | block.cuba.ConvT | block.cuba.Unpool):
        raise UnsupportedError(f"layer {name!r}: {type(node).__name__} blocks are not supported on the chip "
                               "target (supported: Conv, Dense, Pool, Flatten, ResidualCuba)")


def node_synapses(node: torch.nn.Module, name: str) -> list[torch.nn.Module]:
    """The synapses of a neuron node, one per graph input, in edge order."""
    _check_block(node, name)
    if hasattr(node, "synapses"):  # ResidualCuba: several synapses summed into one neuron
        return list(node.synapses)
    if isinstance(node, block.cuba.Dense | block.cuba.Conv | block.cuba.Pool):
        return [node.synapse]
    raise UnsupportedError(f"layer {name!r}: {type(node).__name__} is not a SLAYER cuba Conv/Dense/Pool/"
                           "Flatten block or a ResidualCuba, so it cannot be mapped to Lava processes")


def quantize_layer(node: torch.nn.Module, name: str,
                   sources: list[tuple[str, tuple[int, ...], int]]) -> Layer:
    """One neuron node → IR `Layer`; `sources` = [(source name, its IR shape, edge delay)] in edge order.

    The layer takes its first synapse's output shape; `Network.validate` (end of `quantize_net`) names the
    layer if another synapse's weights or output shape disagree."""
    syns = node_synapses(node, name)
    if len(syns) != len(sources):
        raise UnsupportedError(f"layer {name!r}: {len(syns)} synapses but {len(sources)} graph inputs")
    neuron = quantize_neuron(node.neuron, name)
    ir_syns = [quantize_synapse(syn, node.neuron, name=name, source=src, source_shape=shape, delay=d)
               for syn, (src, shape, d) in zip(syns, sources, strict=True)]
    return Layer(name=name, shape=ir_syns[0].output_shape(sources[0][1]), neuron=neuron, synapses=ir_syns)


def quantize_net(net: torch.nn.Module, *, name: str, time_steps: int,
                 class_names: list[str] | None = None) -> Network:
    """A `SpikingNet` (contract 1: `graph`, `nodes`, `edge_delays`, `output`, `input_shape`) → IR `Network`.

    Flatten nodes vanish: their consumers read the flatten's source directly (the dense weights already use
    PyTorch's C, H, W order) and inherit its edge delay.
    """
    shapes: dict[str, tuple[int, ...]] = {INPUT: tuple(net.input_shape)}
    alias: dict[str, tuple[str, int]] = {}  # flatten node → (its source, delay on that edge)
    layers: list[Layer] = []
    for node_name, inputs in net.graph:
        node = net.nodes[node_name]
        resolved = []
        for src in inputs:
            delay = int(net.edge_delays.get((src, node_name), 0))
            if src in alias:
                src, extra = alias[src]
                delay += extra
            resolved.append((src, shapes[src], delay))
        if isinstance(node, block.cuba.Flatten):
            (src, shape, delay), = resolved
            alias[node_name] = (src, delay)
            shapes[node_name] = shape
            continue
        layer = quantize_layer(node, node_name, resolved)
        shapes[node_name] = layer.shape
        layers.append(layer)
    if net.output in alias:
        raise UnsupportedError(f"output node {net.output!r} is a Flatten; the output must be a neuron layer")
    ir = Network(name=name, input_shape=tuple(int(v) for v in net.input_shape), time_steps=int(time_steps),
                 layers=layers, output=net.output, class_names=list(class_names or []), input_bits=8,
                 meta={"input_scale": float(getattr(net, "input_scale", 1.0))})
    ir.validate()
    return ir
