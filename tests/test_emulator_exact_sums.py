"""The emulator's fast float sums against exact integer arithmetic, property-style.

`SynapseOp` sums in float32 (oneDNN's direct conv, BLAS GEMM) while its bound `max_spike * row_sum(|w|)` is
below 2**24 and in float64 above it. Random synapses are drawn with that bound just below and just above
2**24, and their currents compared with int64 sums plus Lava's wraps; whole random networks must give the same
spikes with the float32 path switched off.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tmkt_deploy.emulator import emulate
from tmkt_deploy.emulator import synapse as synapse_module
from tmkt_deploy.emulator.neuron import wrap
from tmkt_deploy.emulator.synapse import FLOAT32_EXACT, SynapseOp
from tmkt_deploy.ir import INPUT, Cuba, Layer, Network, Synapse
from tmkt_deploy.loihi_params import lava_dense_weight

MAX_SPIKE = 255
CPU = torch.device("cpu")


def int64_sums(syn: Synapse, frames: torch.Tensor) -> torch.Tensor:
    """Each neuron's weighted sum of `frames` (M, C, H, W) in int64, (M, neurons) in C, H, W order."""
    if syn.kind == "conv":
        out_ch, _, kh, kw = syn.weight.shape
        cols = F.unfold(frames.double(), (kh, kw), dilation=syn.dilation, padding=syn.padding,
                        stride=syn.stride).long()  # values <= 255: float64 exact
        cols = cols.view(len(frames), syn.groups, -1, cols.shape[-1])
        weight = torch.as_tensor(syn.weight).long().view(syn.groups, out_ch // syn.groups, -1)
        return torch.matmul(weight, cols).flatten(1)
    return frames.flatten(1).long() @ torch.as_tensor(lava_dense_weight(syn.weight)).long().T


def lava_current(syn: Synapse, sums: torch.Tensor) -> torch.Tensor:
    """What Lava sends for exact sums: conv wrapped to 24 bits; dense wrapped to int32, then shifted."""
    if syn.kind == "conv":
        return wrap(sums, 24)
    exp = syn.weight_exp
    return wrap(wrap(sums, 32) << exp, 32) if exp >= 0 else wrap(sums, 32) >> -exp


def random_synapse(rng: np.random.Generator, kind: str, target_bound: int) -> Synapse:
    """A conv or dense synapse from a graded 64x24x24 (conv) or 4x12x12 (dense) source whose float bound
    `MAX_SPIKE * row_sum(|w|)` lies near `target_bound`: each output's weights mostly of one sign and of the
    largest magnitude, so that sums come near the bound."""
    if kind == "conv":
        groups = int(rng.choice([1, 2]))
        kernel, stride = int(rng.choice([3, 5])), int(rng.choice([1, 2]))
        fan_in, out_ch = 64 // groups * kernel * kernel, 8
        shape = (out_ch, 64 // groups, kernel, kernel)
    else:
        fan_in, out_ch = 4 * 12 * 12, 16
        shape = (out_ch, fan_in)
    top = max(1, min(255, target_bound // (MAX_SPIKE * fan_in)))
    row_signs = rng.choice([-1, 1], (out_ch,) + (1,) * (len(shape) - 1))
    signs = row_signs * np.where(rng.random(shape) < 0.05, -1, 1)
    weight = signs * np.where(rng.random(shape) < 0.9, top, rng.integers(0, top + 1, shape))
    if kind == "conv":
        return Synapse(INPUT, "conv", weight, stride=(stride, stride), padding=(kernel // 2,) * 2,
                       groups=groups)
    return Synapse(INPUT, "dense", weight, weight_exp=int(rng.integers(-2, 3)))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["conv", "dense"])
@pytest.mark.parametrize("side", ["below", "above"])
def test_float_sums_equal_int64_sums_on_both_sides_of_the_float32_limit(seed, kind, side, monkeypatch):
    summed_in = []
    float_sum = SynapseOp._sum
    monkeypatch.setattr(SynapseOp, "_sum", lambda op, x, w: summed_in.append(w.dtype) or float_sum(op, x, w))
    rng = np.random.default_rng(seed)
    target = FLOAT32_EXACT - 1 if side == "below" else 4 * FLOAT32_EXACT
    syn = random_synapse(rng, kind, target)
    op = SynapseOp.build(syn, "probe", CPU)
    source = (8, 64, 24, 24) if kind == "conv" else (8, 4, 12, 12)
    dense_input = rng.random(source) < 0.9  # mostly full payloads: sums near the bound
    frames = torch.as_tensor(dense_input * rng.integers(MAX_SPIKE - 3, MAX_SPIKE + 1, source))
    raw = op.row_sum * MAX_SPIKE
    assert (raw < FLOAT32_EXACT) == (side == "below"), f"bound {raw} not on the {side} side"
    mine = op(frames, MAX_SPIKE)
    assert set(summed_in) == {torch.float32 if side == "below" else torch.float64}
    sums = int64_sums(syn, frames)
    assert sums.abs().max() > FLOAT32_EXACT // 4, "sums far from the bound prove little"
    assert torch.equal(mine, lava_current(syn, sums).to(mine.dtype))


def test_sums_above_the_limit_are_ones_float32_would_round():
    """The fallback matters: these exact sums lie above 2**25, where float32 keeps only multiples of 4."""
    weight = np.full((16, 4 * 12 * 12), 255)
    weight[:, 0] = np.arange(16)
    syn = Synapse(INPUT, "dense", weight)
    frames = torch.full((4, 4, 12, 12), MAX_SPIKE)
    frames[:, 0, 0, 0] = torch.arange(4)
    sums = int64_sums(syn, frames)
    assert (sums.float().long() != sums).any()
    mine = SynapseOp.build(syn, "probe", CPU)(frames, MAX_SPIKE)
    assert torch.equal(mine, lava_current(syn, sums).double())


def random_net(seed: int) -> Network:
    """Graded input → wide conv (its float bound above 2**24) → sum-pool → conv → dense, random weights."""
    rng = np.random.default_rng(seed)
    neuron = Cuba(i_decay=int(rng.integers(0, 4097)), v_decay=int(rng.integers(0, 4097)),
                  vth_mant=int(rng.integers(1, 200)))
    layers = [
        Layer("conv1", (8, 12, 12), neuron, [Synapse(INPUT, "conv", rng.integers(-255, 256, (8, 64, 3, 3)),
                                                     padding=(1, 1))]),
        Layer("pool", (8, 6, 6), neuron, [Synapse("conv1", "conv", rng.integers(0, 120, (8, 1, 2, 2)),
                                                  stride=(2, 2), groups=8)]),
        Layer("conv2", (8, 6, 6), neuron, [Synapse("pool", "conv", rng.integers(-60, 80, (8, 8, 3, 3)),
                                                   padding=(1, 1))]),
        Layer("out", (5,), neuron, [Synapse("conv2", "dense", rng.integers(-100, 150, (5, 288)))]),
    ]
    return Network(f"random{seed}", (64, 12, 12), 5, layers, output="out")


@pytest.mark.parametrize("seed", range(4))
def test_networks_spike_alike_with_and_without_float32_sums(seed, monkeypatch):
    net = random_net(seed)
    rng = np.random.default_rng(seed)
    bounds = [SynapseOp.build(syn, layer.name, CPU).row_sum * (MAX_SPIKE if syn.source == INPUT else 1)
              for layer in net.layers for syn in layer.synapses]
    assert min(bounds) < FLOAT32_EXACT <= max(bounds), "both paths should run"
    shape = (6, *net.input_shape, net.time_steps)
    x = np.where(rng.random(shape) < 0.5, rng.integers(1, 256, shape), 0)
    fast = emulate(net, x, record=True)
    monkeypatch.setattr(synapse_module, "FLOAT32_EXACT", 0)  # every sum in float64
    exact = emulate(net, x, record=True)
    assert any(fast.spike_counts[name].any() for name in ("conv2", "out")), "a silent net proves nothing"
    for name, spikes in exact.layer_spikes.items():
        assert np.array_equal(fast.layer_spikes[name], spikes), name
