"""ONNX step graph: onnxruntime over a whole sequence vs a reference built from Lava's own fixed-point code.

The reference runs Lava's `PyLifModelBitAcc` neuron methods and `lava.proc.conv.utils.conv` directly (no Lava
runtime, so it is fast) with Lava's one-step synapse buffers; the dense synapse follows `PyDenseModelBitAcc`.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import support
import torch
from lava.proc.conv.utils import conv as lava_conv
from lava.proc.lif.models import PyLifModelBitAcc
from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

from tmkt_deploy.emulator import emulate
from tmkt_deploy.interop import UnsupportedError
from tmkt_deploy.interop.onnx_export import OPSET, write_onnx
from tmkt_deploy.interop.onnx_run import run_onnx
from tmkt_deploy.ir import INPUT, Cuba, Layer, Network, Synapse
from tmkt_deploy.quantize import quantize_net
from tmkt_train.models import build_model

T, BATCH = 14, 3


def tiny_net() -> Network:
    """conv → sum-pool → dense → dense with a residual edge from the pool (delayed a step to line up)."""
    rng = np.random.default_rng(0)
    neuron = Cuba(i_decay=1024, v_decay=128, vth_mant=80)
    pool = np.zeros((3, 1, 2, 2), np.int16) + 40
    layers = [
        Layer("c1", (3, 6, 6), neuron,
              [Synapse(INPUT, "conv", rng.integers(-6, 7, (3, 2, 3, 3)).astype(np.int16), padding=(1, 1))]),
        Layer("p1", (3, 3, 3), Cuba(i_decay=4096, v_decay=4096, vth_mant=60),
              [Synapse("c1", "conv", pool, stride=(2, 2), groups=3, role="pool")]),
        Layer("d1", (8,), Cuba(i_decay=512, v_decay=300, vth_mant=50, bias_mant=3, bias_exp=4),
              [Synapse("p1", "dense", rng.integers(-100, 100, (8, 27)).astype(np.int16), weight_exp=-1)]),
        Layer("out", (4,), Cuba(i_decay=1024, v_decay=128, vth_mant=150),
              [Synapse("d1", "dense", rng.integers(-80, 127, (4, 8)).astype(np.int16)),
               Synapse("p1", "dense", rng.integers(-50, 90, (4, 27)).astype(np.int16), delay=1)]),
    ]
    net = Network("tiny", (2, 6, 6), T, layers, output="out")
    net.validate()
    return net


def _lava_lif(layer: Layer, n: int) -> PyLifModelBitAcc:
    """A Lava bit-accurate LIF model object driven by hand; du follows netx's `iDecay - 1` mapping."""
    m = PyLifModelBitAcc({})
    size = n * layer.num_neurons
    m.u, m.v = np.zeros(size, np.int32), np.zeros(size, np.int32)
    m.du, m.dv, m.vth = layer.neuron.i_decay - 1, layer.neuron.v_decay, layer.neuron.vth_mant
    m.bias_mant = np.full(size, layer.neuron.bias_mant, np.int16)
    m.bias_exp = np.full(size, layer.neuron.bias_exp, np.int16)
    return m


def _synapse_out(syn: Synapse, s: np.ndarray) -> np.ndarray:
    """Lava Dense (8-bit clip + truncation, weights.dot, weight_exp shift) or Conv (lava's conv on X,Y,C)."""
    if syn.kind == "dense":
        mode = determine_sign_mode(syn.weight)
        weight = truncate_weights(clip_weights(syn.weight, mode, num_bits=8), mode, 8)
        a = s.reshape(len(s), -1).astype(np.int64) @ weight.T.astype(np.int64)
    else:
        w = syn.weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1).astype(np.int32)
        kernel = np.array(syn.weight.shape[2:][::-1])
        a = np.stack([lava_conv(x.transpose(2, 1, 0).astype(np.int32), w, kernel, syn.stride[::-1],
                                syn.padding[::-1], syn.dilation[::-1], syn.groups).transpose(2, 1, 0)
                      for x in s])
    return np.left_shift(a, syn.weight_exp) if syn.weight_exp > 0 else np.right_shift(a, -syn.weight_exp)


def lava_reference(net: Network, frames: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """`{layer: {"spikes", "u", "v"}}`, each (N, *shape, T), stepping Lava's models with one-step buffers."""
    n = len(frames)
    lifs = {layer.name: _lava_lif(layer, n) for layer in net.layers}
    buffers = {(layer.name, k): np.zeros((n, *layer.shape), np.int64)
               for layer in net.layers for k in range(len(layer.synapses))}
    history = {INPUT: []} | {layer.name: [] for layer in net.layers}
    states = {layer.name: {"u": [], "v": []} for layer in net.layers}
    for t in range(frames.shape[-1]):
        history[INPUT].append(frames[..., t].astype(np.int64))
        for layer in net.layers:
            m = lifs[layer.name]
            a_in = sum(buffers[(layer.name, k)] for k in range(len(layer.synapses)))
            m.scale_bias()
            m.scale_threshold()
            m.subthr_dynamics(a_in.reshape(-1))
            s = m.spiking_activation()
            m.reset_voltage(s)
            history[layer.name].append(s.reshape(n, *layer.shape).astype(np.int64))
            states[layer.name]["u"].append(m.u.reshape(n, *layer.shape).copy())
            states[layer.name]["v"].append(m.v.reshape(n, *layer.shape).copy())
        for layer in net.layers:
            for k, syn in enumerate(layer.synapses):
                past = history[syn.source]
                src = past[-1 - syn.delay] if len(past) > syn.delay else np.zeros_like(past[-1])
                buffers[(layer.name, k)] = _synapse_out(syn, src)
    return {layer.name: {"spikes": np.stack(history[layer.name], axis=-1),
                         **{k: np.stack(v, axis=-1) for k, v in states[layer.name].items()}}
            for layer in net.layers}


def traced_run(path, frames: np.ndarray, flush: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """`run_onnx` plus every state tensor per step, time last (spike histories: their newest slot)."""
    trace: dict[str, list[np.ndarray]] = {}

    def keep(state: dict[str, np.ndarray]) -> None:
        for name, value in state.items():
            trace.setdefault(name, []).append(value[:, 0] if name.endswith(".spikes") else value)

    out = run_onnx(path, frames, flush=flush, on_step=keep)
    return out, {name: np.stack(values, axis=-1) for name, values in trace.items()}


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """Graded input (N, C, H, W, T), half the pixels silent."""
    return support.graded_frames((BATCH, 2, 6, 6, T), density=0.5, seed=1, dtype=np.uint8)


def test_onnx_step_matches_lava_fixed_point_spike_for_spike(tmp_path, frames):
    net = tiny_net()
    path = tmp_path / "tiny.onnx"
    model = write_onnx(net, path)
    assert model.opset_import[0].version == OPSET
    onnx.checker.check_model(onnx.load(path))

    got = run_onnx(path, frames, flush=False)
    want = lava_reference(net, frames)["out"]["spikes"]
    assert got.shape == want.shape == (BATCH, 4, T)
    assert want.sum() > 5 and (want == 0).sum() > 5, "test net must both fire and stay silent"
    np.testing.assert_array_equal(got, want)


def test_onnx_state_matches_lava_current_and_voltage_every_step(tmp_path, frames):
    """u, v of every layer and the hidden layers' spike history equal Lava's, step by step (catches any
    off-by-one in decays or rounding that spikes alone would hide)."""
    net = tiny_net()
    write_onnx(net, tmp_path / "tiny.onnx")
    _, trace = traced_run(tmp_path / "tiny.onnx", frames)
    want = lava_reference(net, frames)
    for layer in net.layers:
        for key in ("u", "v"):
            got = trace[f"{layer.name}.{key}"]
            np.testing.assert_array_equal(got, want[layer.name][key], err_msg=f"{layer.name}.{key}")
    for name in ("c1", "p1", "d1"):
        np.testing.assert_array_equal(trace[f"{name}.spikes"], want[name]["spikes"], err_msg=name)


def test_onnx_wraps_and_saturates_large_currents_like_lava(tmp_path):
    """Full-scale weights on near-saturated graded input: u runs at the 24-bit edge (Lava's wrap), v
    saturates, and the decay products pass 2^31 (where onnxruntime's int64 Sign is wrong)."""
    rng = np.random.default_rng(2)
    weight = (rng.integers(-127, 128, (4, 2, 3, 3)) * 2).astype(np.int16)
    layer = Layer("big", (4, 6, 6), Cuba(i_decay=100, v_decay=50, vth_mant=100_000),
                  [Synapse(INPUT, "conv", weight, padding=(1, 1))])
    net = Network("big", (2, 6, 6), 8, [layer], output="big")
    frames = rng.integers(200, 256, (2, 2, 6, 6, 8)).astype(np.uint8)
    write_onnx(net, tmp_path / "big.onnx")
    got = run_onnx(tmp_path / "big.onnx", frames, flush=False)
    want = lava_reference(net, frames)["big"]
    assert np.abs(want["u"]).max() > 1 << 22 and np.abs(want["v"]).max() == (1 << 23) - 1
    np.testing.assert_array_equal(got, want["spikes"])


def test_onnx_matches_the_emulator_over_the_whole_run(tmp_path, frames):
    """Spike for spike against `tmkt_deploy.emulator` (bit-exact with Lava): input frames, then the flush."""
    net = tiny_net()
    write_onnx(net, tmp_path / "tiny.onnx")
    got = run_onnx(tmp_path / "tiny.onnx", frames)
    want = emulate(net, frames).output_spikes
    assert got.shape == want.shape == (BATCH, 4, net.steps_per_sample(T)) and want.any()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backbone", ["scnn", "resnet18"])
def test_real_backbones_match_the_emulator_in_every_layer(tmp_path, backbone):
    """Our model registry → quantize → ONNX: every layer's spikes (residual sums and delays included) equal
    the emulator's, and the file carries its run instructions as metadata."""
    torch.manual_seed(0)
    net = quantize_net(build_model(backbone, num_classes=4, input_shape=(2, 16, 16), width=0.125),
                       name=backbone, time_steps=4)
    model = write_onnx(net, tmp_path / f"{backbone}.onnx")
    props = {p.key: p.value for p in model.metadata_props}
    assert int(props["tmkt.latency"]) == net.latency()
    assert json.loads(props["tmkt.state"])[0]["dtype"] == "int32"

    frames = support.graded_frames((2, 2, 16, 16, 4), density=0.6, low=64, seed=3, dtype=np.uint8)
    _, trace = traced_run(tmp_path / f"{backbone}.onnx", frames, flush=True)
    want = emulate(net, frames, record=True).layer_spikes
    sources = [name for name in want if f"{name}.spikes" in trace]
    assert len(sources) == len(net.layers) - 1 and any(want[name].any() for name in sources)
    for name in sources:
        np.testing.assert_array_equal(trace[f"{name}.spikes"], want[name], err_msg=name)


def test_onnx_refuses_graded_layer_naming_it(tmp_path):
    net = tiny_net()
    net.layers[1].neuron = Cuba(i_decay=4096, v_decay=4096, vth_mant=60, graded=True)
    with pytest.raises(UnsupportedError, match="'p1'.*graded"):
        write_onnx(net, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()
