"""The emulator against Lava itself: the same IR built directly from `lava.proc` processes, run with
`Loihi2SimCfg(select_tag="fixed_pt")`, must give identical spikes at every layer and every step.

The harness below is deliberately independent of `tmkt_deploy.lava` (the product's builder), so the
emulator is checked against Lava's own process models, not against our other code. Networks are tiny and run
for a few steps (Lava on CPU is slow); coverage comes from random parameter draws over several seeds plus
hand-made edge cases (saturating weights, zero input, threshold ties, extreme decays, negative currents).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.conv.process import Conv
from lava.proc.dense.process import DelayDense, Dense
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIF, LIFReset

from tmkt_deploy.emulator import WindowRunner, emulate
from tmkt_deploy.emulator.lif_kernel import lif_window
from tmkt_deploy.emulator.neuron import LifState
from tmkt_deploy.emulator.synapse import SynapseOp
from tmkt_deploy.ir import INPUT, Cuba, Layer, Network, Synapse
from tmkt_deploy.loihi_params import LifParams, lif_params

pytestmark = pytest.mark.lava

# --- a direct IR → lava.proc harness (IR in PyTorch CHW order, Lava processes in WHC order) ---


def _spatial(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3


def _lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[::-1]) if _spatial(shape) else tuple(shape)


def _flat_chw(port, shape: tuple[int, ...]):
    """A WHC port seen as the PyTorch C,H,W flattening the IR's dense weights use."""
    return port.transpose([2, 1, 0]).flatten() if _spatial(shape) else port


def _connection(syn: Synapse, source_shape: tuple[int, ...]):
    message_bits = 8 if syn.source == INPUT else 0
    if syn.kind == "dense":
        if syn.delay:
            return DelayDense(weights=syn.weight, delays=np.full(syn.weight.shape, syn.delay),
                              weight_exp=syn.weight_exp, num_message_bits=message_bits)
        return Dense(weights=syn.weight, weight_exp=syn.weight_exp, num_message_bits=message_bits)
    assert syn.delay == 0, "the harness has no delayed conv"
    weight = syn.weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)  # PyTorch correlation → Lava WHC convolution
    return Conv(weight=weight, input_shape=_lava_shape(source_shape), stride=syn.stride[::-1],
                padding=syn.padding[::-1], dilation=syn.dilation[::-1], groups=syn.groups,
                num_message_bits=message_bits)


def run_lava(net: Network, sample: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's per-sample window `(*shape, P)` for one sample `(C, H, W, T)`, from Lava's fixed_pt
    models. As in the product's graph, a layer of latency l is a `LIFReset` that resets once, at step l (when
    its first input arrives); the run is P + L steps long so every layer's window [l, l + P) is complete.
    """
    steps = net.steps_per_sample(sample.shape[-1])
    run_steps = steps + net.latency()
    data = np.zeros((*_lava_shape(net.input_shape), run_steps), dtype=np.int64)
    data[..., :sample.shape[-1]] = sample.transpose(2, 1, 0, 3)
    source = Source(data=data)
    outs, sinks = {INPUT: source.s_out}, {}
    for layer in net.layers:
        p = lif_params(layer.neuron, layer.name)
        lif = LIFReset(shape=_lava_shape(layer.shape), **vars(p), reset_interval=run_steps + 1,
                       reset_offset=net.latency(layer.name) + 1)
        for syn in layer.synapses:
            src_shape = net.shape_of(syn.source)
            conn = _connection(syn, src_shape)
            port = _flat_chw(outs[syn.source], src_shape) if syn.kind == "dense" else outs[syn.source]
            port.connect(conn.s_in)
            conn.a_out.connect(lif.a_in)
        sinks[layer.name] = Sink(shape=_lava_shape(layer.shape), buffer=run_steps)
        lif.s_out.connect(sinks[layer.name].a_in)
        outs[layer.name] = lif.s_out
    source.run(condition=RunSteps(num_steps=run_steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    try:
        recorded = {name: sink.data.get() for name, sink in sinks.items()}
    finally:
        source.stop()
    windows = {}
    for name, data in recorded.items():
        start = net.latency(name)
        window = data[..., start:start + steps]
        windows[name] = (window.transpose(2, 1, 0, 3) if window.ndim == 4 else window).astype(np.uint8)
    return windows


def assert_same_spikes(net: Network, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's window, step by step, emulator vs Lava, for each sample; also the `emulate` record layout
    and counts. Returns the last sample's Lava windows."""
    result = emulate(net, inputs, record=True, batch_size=max(1, len(inputs) // 2))
    windows = WindowRunner(net, torch.device("cpu"))(torch.as_tensor(inputs))
    for i, sample in enumerate(inputs):
        lava = run_lava(net, sample)
        for name, spikes in lava.items():
            mine = windows[name].spikes[i].movedim(0, -1).numpy()
            if not np.array_equal(mine, spikes):
                step = int(np.argwhere((mine != spikes).reshape(-1, spikes.shape[-1]).any(0))[0, 0])
                raise AssertionError(f"sample {i}, layer {name!r}: first differing window step {step} "
                                     f"(emulator {int(mine.sum())} spikes, Lava {int(spikes.sum())})")
            latency, record = net.latency(name), result.layer_spikes[name][i]
            assert np.array_equal(record[..., latency:], spikes[..., :result.time_steps - latency])
            assert not record[..., :latency].any()
            assert result.spike_counts[name][i] == spikes.sum()
        output = result.layer_spikes[net.output][i].reshape(-1, result.time_steps)
        assert np.array_equal(result.output_spikes[i], output)
    return lava


# --- single processes: LIF registers, Dense and Conv currents ---


@pytest.mark.parametrize(("du", "dv"), [(-1, 0), (4095, 4096), (0, 1), (1234, 321)])
def test_lif_registers_match_lava_step_by_step(du, dv):
    """u, v and spikes after every step, for currents from tiny to past int32 once shifted (Lava wraps)."""
    rng = np.random.default_rng(du + 2 * dv + 1)
    steps, n = 5, 40
    a_in = rng.integers(-3000, 3000, (n, steps))
    a_in[:6] = rng.integers(-(2**27), 2**27, (6, steps))
    params = LifParams(du=du, dv=dv, vth=int(rng.integers(1, 200)), bias_mant=-20, bias_exp=2)
    source, lif, sink = Source(data=a_in), LIF(shape=(n,), **vars(params)), Sink(shape=(n,), buffer=steps)
    source.s_out.connect(lif.a_in)
    lif.s_out.connect(sink.a_in)
    registers = []
    try:
        for _ in range(steps):
            source.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            registers.append((lif.u.get().copy(), lif.v.get().copy()))
        spikes = sink.data.get()
    finally:
        source.stop()
    state = LifState(params, 1, n, torch.device("cpu"))  # the torch model (GPU path), step by step
    for t, (u, v) in enumerate(registers):
        fired = state.step(torch.as_tensor(a_in[:, t])[None])[0].numpy()
        assert np.array_equal(state.u[0].numpy(), u), f"u differs at step {t}"
        assert np.array_equal(state.v[0].numpy(), v), f"v differs at step {t}"
        assert np.array_equal(fired, spikes[:, t] > 0), f"spikes differ at step {t}"
        window = lif_window(params, a_in.T[None, : t + 1].astype(np.float64))  # the fused CPU kernel
        assert np.array_equal(window.u[0], u) and np.array_equal(window.v[0], v), f"kernel, step {t}"
        assert np.array_equal(window.spikes[0].T, spikes[:, : t + 1] > 0)
        assert window.counts[0] == (spikes[:, : t + 1] > 0).sum()
    assert 0 < spikes.sum() < spikes.size


def test_dense_and_conv_currents_match_lava():
    """Many connections read one graded source; each Lava a_out stream must equal our synapse op, one step
    later (exponents ±, sign modes, saturating weights, stride/padding/dilation/groups)."""
    rng = np.random.default_rng(5)
    shape, steps = (4, 7, 6), 4
    synapses = [_dense(rng, INPUT, 168, 5) for _ in range(6)]
    synapses += [
        Synapse(INPUT, "conv", _weights(rng, (4, 4, 3, 3)), padding=(1, 1)),
        Synapse(INPUT, "conv", _weights(rng, (6, 2, 3, 2)), stride=(2, 1), padding=(0, 1), groups=2),
        Synapse(INPUT, "conv", _weights(rng, (4, 1, 2, 2)), stride=(2, 2), dilation=(1, 2), groups=4),
    ]
    frames = rng.integers(0, 256, (*shape, steps))
    source = Source(data=frames.transpose(2, 1, 0, 3))
    sinks = []
    for syn in synapses:
        conn = _connection(syn, shape)
        port = _flat_chw(source.s_out, shape) if syn.kind == "dense" else source.s_out
        port.connect(conn.s_in)
        sinks.append(Sink(shape=conn.a_out.shape, buffer=steps))
        conn.a_out.connect(sinks[-1].a_in)
    source.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    try:
        streams = [sink.data.get() for sink in sinks]
    finally:
        source.stop()
    x = torch.as_tensor(frames).movedim(-1, 0)
    for syn, stream in zip(synapses, streams, strict=True):
        mine = SynapseOp.build(syn, "probe", torch.device("cpu"))(x, 255).numpy()  # (steps, neurons), CHW
        lava = stream.transpose(2, 1, 0, 3) if stream.ndim == 4 else stream
        lava = lava.reshape(-1, steps).T
        assert not lava[0].any()
        assert np.array_equal(mine[:-1], lava[1:]), f"{syn.kind} synapse differs"
        assert np.abs(lava).max() > 0


# --- random IRs ---


def _cuba(rng: np.random.Generator) -> Cuba:
    decays = [0, 1, 4095, 4096, *rng.integers(0, 4097, 3)]
    return Cuba(i_decay=int(rng.choice(decays)), v_decay=int(rng.choice(decays)),
                vth_mant=int(rng.integers(1, 400)), bias_mant=int(rng.integers(-60, 120)),
                bias_exp=int(rng.integers(0, 4)))


def _weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Mixed, all-positive or all-negative weights, sometimes beyond Lava's 8-bit range (it clips them)."""
    mode = rng.integers(0, 4)
    w = rng.integers(-300, 301, shape)
    if mode == 1:
        w = np.abs(w)
    elif mode == 2:
        w = -np.abs(w)
    elif mode == 3:
        w = rng.integers(-80, 81, shape)
    return w.astype(np.int64)


def _dense(rng: np.random.Generator, source: str, fan_in: int, out: int, delay: int = 0) -> Synapse:
    return Synapse(source, "dense", _weights(rng, (out, fan_in)), weight_exp=int(rng.integers(-3, 3)),
                   delay=delay)


def dense_chain(seed: int) -> Network:
    rng = np.random.default_rng(seed)
    layers = [Layer("fc1", (7,), _cuba(rng), [_dense(rng, INPUT, 12, 7)]),
              Layer("fc2", (5,), _cuba(rng), [_dense(rng, "fc1", 7, 5)])]
    return Network("dense", (2, 2, 3), 6, layers, output="fc2")


def conv_chain(seed: int) -> Network:
    """conv 3x3 (padding 1) → sum-pool as grouped 2x2 stride-2 conv → dense, like the backbones' blocks."""
    rng = np.random.default_rng(seed)
    pool = np.full((3, 1, 2, 2), int(rng.integers(20, 200)))
    layers = [
        Layer("conv", (3, 6, 5), _cuba(rng),
              [Synapse(INPUT, "conv", _weights(rng, (3, 2, 3, 3)), padding=(1, 1))]),
        Layer("pool", (3, 3, 2), _cuba(rng), [Synapse("conv", "conv", pool, stride=(2, 2), groups=3)]),
        Layer("out", (4,), _cuba(rng), [_dense(rng, "pool", 18, 4)]),
    ]
    return Network("conv", (2, 6, 5), 5, layers, output="out")


def residual(seed: int) -> Network:
    """Two synapses into one layer, the shorter path delayed by one step so both arrive together."""
    rng = np.random.default_rng(seed)
    layers = [Layer("a", (6,), _cuba(rng), [_dense(rng, INPUT, 8, 6)]),
              Layer("b", (6,), _cuba(rng), [_dense(rng, "a", 6, 6)]),
              Layer("c", (3,), _cuba(rng), [_dense(rng, "b", 6, 3), _dense(rng, "a", 6, 3, delay=1)])]
    return Network("residual", (2, 2, 2), 5, layers, output="c")


def _inputs(net: Network, seed: int, samples: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    x = rng.integers(0, 256, (samples, *net.input_shape, net.time_steps))
    return np.where(rng.random(x.shape) < 0.4, x, 0)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("build", [dense_chain, conv_chain, residual], ids=lambda f: f.__name__)
def test_random_networks_match_lava(build, seed):
    net = build(seed)
    assert_same_spikes(net, _inputs(net, seed))


# --- edge cases ---


def _single(weight: np.ndarray, neuron: Cuba, time_steps: int = 4, weight_exp: int = 0) -> Network:
    layer = Layer("n", (weight.shape[0],), neuron, [Synapse(INPUT, "dense", weight, weight_exp=weight_exp)])
    return Network("single", (weight.shape[1], 1, 1), time_steps, [layer], output="n")


def test_threshold_tie_does_not_fire():
    """u and v forget everything each step, so v = 64 * a_in: v == vth << 6 must not spike, above it must."""
    net = _single(np.array([[3], [2], [4]]), Cuba(4096, 4096, vth_mant=30), time_steps=3)
    lava = assert_same_spikes(net, np.full((1, 1, 1, 1, 3), 10))  # a_in = 30 (tie), 20 (below), 40 (above)
    assert lava["n"].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]]


def test_zero_input_bias_alone_drives_spikes():
    net = _single(np.ones((3, 4), dtype=np.int64), Cuba(100, 200, vth_mant=10, bias_mant=50, bias_exp=3))
    lava = assert_same_spikes(net, np.zeros((1, 4, 1, 1, 4), dtype=np.int64))
    assert lava["n"].sum() > 0


def test_saturating_weights_wrap_current_and_clip_voltage():
    """Graded 255 inputs on ±255 weights with a left-shifting exponent push u past 24 bits (Lava wraps it)."""
    weight = np.array([[255] * 16, [-256] * 16, [300] * 16, [-300] * 16, [7] * 16])
    net = _single(weight, Cuba(0, 0, vth_mant=1000), weight_exp=2)
    lava = assert_same_spikes(net, np.full((1, 16, 1, 1, 4), 255))
    assert lava["n"][0].any() and not lava["n"][1].any()


@pytest.mark.parametrize(("i_decay", "v_decay"), [(0, 0), (4096, 4096), (0, 4096), (4096, 0)])
def test_extreme_decays_and_negative_currents(i_decay, v_decay):
    rng = np.random.default_rng(i_decay + 7 * v_decay)
    net = _single(rng.integers(-200, 120, (5, 6)), Cuba(i_decay, v_decay, vth_mant=20, bias_mant=-3), 5)
    assert_same_spikes(net, rng.integers(0, 256, (1, 6, 1, 1, 5)))
