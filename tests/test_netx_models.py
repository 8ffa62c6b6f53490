"""Any lava-dl network in: files written by lava-dl's own blocks, netx's own Lava run as the ground truth, our
emulator (CPU, and CUDA where present) and our Lava runner value for value on every layer, and the CLI end to
end (import-netx, run, report) on each file."""

from __future__ import annotations

import importlib.util
import json

import h5py
import netx_models as nm
import numpy as np
import pytest
import support
import torch
from lava.lib.dl import slayer
from typer.testing import CliRunner

from tmkt_deploy.cli import app
from tmkt_deploy.emulator import emulate
from tmkt_deploy.emulator.stream import StreamRunner, fire_resonators, fire_window, neuron_stepper
from tmkt_deploy.emulator.synapse import exact_kernels
from tmkt_deploy.interop import UnsupportedError
from tmkt_deploy.interop.netx_import import NetxOptions, read_netx
from tmkt_deploy.ir import Cuba, Layer, Network, Resonator, SigmaDelta, Synapse
from tmkt_deploy.lava.stream import run_stream_lava

# the compiled CPU kernels (a GPU box may lack numba: there the emulator steps in torch on CPU as well)
needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba not installed")
RNG = np.random.default_rng(7)
BINARY_CONV_INPUT = (RNG.random((2, 8, 8, nm.S)) < 0.5).astype(np.float32)  # (C, H, W, S), float spikes
GRADED_DENSE_INPUT = support.graded_frames((6, 1, 1, nm.S), density=0.5, high=6, seed=8)
SDNN_INPUT = support.graded_frames((2, 6, 6, nm.S), density=0.6, low=-4000, high=8000, seed=9)
RF_INPUT = (RNG.random((12, 1, 1, nm.S)) < 0.5).astype(np.float32)

# file builder, netx.hdf5.Network arguments, our options, input (IR layout, one sample)
CASES = {
    "cuba_conv": (nm.cuba_conv_file, {"input_shape": (8, 8, 2)}, NetxOptions(), BINARY_CONV_INPUT),
    "cuba_conv_reset": (nm.cuba_conv_file, {"input_shape": (8, 8, 2), "reset_interval": 4, "reset_offset": 1},
                        NetxOptions(reset_interval=4, reset_offset=1), BINARY_CONV_INPUT),
    "cuba_rec_delay": (nm.cuba_rec_delay_file, {"input_shape": (8, 8, 2)}, NetxOptions(), BINARY_CONV_INPUT),
    "cuba_dense": (nm.cuba_dense_file, {"input_message_bits": 8}, NetxOptions(input_message_bits=8),
                   GRADED_DENSE_INPUT),
    "sdnn": (nm.sdnn_file, {"input_shape": (6, 6, 2), "input_message_bits": 16},
             NetxOptions(input_message_bits=16), SDNN_INPUT),
    "rf": (lambda path: nm.resonator_file(path, "rf"), {}, NetxOptions(), RF_INPUT),
    "rf_iz": (lambda path: nm.resonator_file(path, "rf_iz"), {}, NetxOptions(), RF_INPUT),
}


def _netx_layout(frames: np.ndarray, flat: bool) -> np.ndarray:
    """One IR-layout sample (C, H, W, S) as netx's input: (k, S) or (x, y, c, S)."""
    return frames.reshape(-1, frames.shape[-1]) if flat else frames.transpose(2, 1, 0, 3)


@pytest.fixture(scope="module", params=sorted(CASES))
def imported(request, tmp_path_factory):
    """A case's file, written by lava-dl, and its IR."""
    build, netx_args, options, frames = CASES[request.param]
    path = build(tmp_path_factory.mktemp(request.param) / f"{request.param}.net")
    net = read_netx(path, input_shape=frames.shape[:3] if "input_shape" in netx_args else None,
                    time_steps=nm.S, options=options)
    return {"name": request.param, "path": path, "net": net, "frames": frames, "options": options,
            "netx_args": netx_args}


@pytest.fixture(scope="module")
def case(imported):
    """Also netx's own Lava run of the file: every block's output."""
    theirs = nm.netx_lava(imported["path"], imported["frames"], len(imported["net"].layers),
                          **imported["netx_args"])
    return {**imported, "theirs": theirs}


def test_emulator_and_our_lava_equal_netx_on_every_layer(case):
    net, frames = case["net"], case["frames"]
    names = [lay.name for lay in net.layers]
    ours = emulate(net, frames[None], record=True).layer_spikes
    lava = run_stream_lava(net, frames[None], record=names)
    for name, theirs in zip(names, case["theirs"], strict=True):
        theirs = theirs.reshape(net.shape_of(name) + (nm.S,))
        assert np.count_nonzero(ours[name][0] != theirs) == 0, name
        assert np.count_nonzero(lava[name][0] != theirs) == 0, name
    assert np.count_nonzero(case["theirs"][-1]) or case["name"] == "cuba_dense"  # integrator never spikes
    assert all(np.count_nonzero(t) for t in case["theirs"][:2])


def _samples(imported: dict, n: int = 5) -> np.ndarray:
    """`n` samples like the case's input (the first is it; the others: its steps rolled)."""
    frames = imported["frames"]
    return np.stack([np.roll(frames, i, axis=-1) for i in range(n)])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_emulator_equals_cpu(imported):
    """The CUDA emulator (torch stepping, GPU convs) equals the CPU one, every layer, every step, batched."""
    net, frames = imported["net"], _samples(imported)
    cpu = emulate(net, frames, record=True, activity=True)
    gpu = emulate(net, frames, record=True, activity=True, device="cuda")
    for name in cpu.layer_spikes:
        np.testing.assert_array_equal(gpu.layer_spikes[name], cpu.layer_spikes[name])
    for name in cpu.spike_counts:
        np.testing.assert_array_equal(gpu.spike_counts[name], cpu.spike_counts[name])
        np.testing.assert_array_equal(gpu.window_spikes[name], cpu.window_spikes[name])


@needs_numba
def test_torch_path_equals_the_compiled_path(imported):
    """The runner's torch path (what runs on a GPU: torch input layout, every layer stepped) equals its
    compiled CPU path (numba input and neuron kernels) on every layer, count and per-neuron message count."""
    net, frames = imported["net"], torch.as_tensor(_samples(imported))
    runners = [StreamRunner(net, torch.device("cpu"), compiled=compiled) for compiled in (True, False)]
    with exact_kernels():
        fast, stepped = (runner(frames) for runner in runners)
    for name in fast:
        np.testing.assert_array_equal(stepped[name].values.numpy(), fast[name].values.numpy())
        np.testing.assert_array_equal(stepped[name].counts.numpy(), fast[name].counts.numpy())
        np.testing.assert_array_equal(runners[1].messages(name, stepped[name]).numpy(),
                                      runners[0].messages(name, fast[name]).numpy())


@needs_numba
def test_torch_stepping_equals_the_compiled_kernels(imported):
    """The torch steppers (recurrent layers, CUDA) and the numba window kernels (CPU) agree on every layer's
    neurons, biases and reset schedule, for random integer inputs."""
    gen = torch.Generator().manual_seed(5)
    for layer in imported["net"].layers:
        ports = 2 if isinstance(layer.neuron, Resonator) else 1  # real and imaginary inputs
        a_in = torch.randint(-400, 400, (ports, 3, 12, layer.num_neurons), generator=gen).to(torch.float64)
        stepper = neuron_stepper(layer, 3, torch.device("cpu"))
        stepped = torch.stack([stepper.step(a_in[:, :, t].squeeze(0), t + 1) for t in range(12)], dim=1)
        fired = fire_resonators(layer, *a_in) if ports == 2 else fire_window(layer, a_in[0])
        np.testing.assert_array_equal(stepped.numpy(), fired.values.numpy())
        assert ports == 1 or stepped.any()


def test_what_netx_builds_is_in_the_ir(imported):
    """The features each file exercises reach the IR with netx's parameters."""
    net = imported["net"]
    assert net.timing == "stream"
    if imported["name"].startswith("cuba_conv"):
        conv, dense, rec = net.layers
        assert conv.bias is not None and conv.bias[:, 0, 0].tolist() == [6, -4, 12, 0]
        assert dense.synapses[0].delays is not None and dense.synapses[0].delays.max() > 0
        assert [s.source for s in rec.synapses] == ["dense2", "dense_rec3"]
        assert rec.synapses[0].weight_exp == rec.synapses[1].weight_exp  # netx optimises the pair together
        assert (conv.neuron.reset_interval, conv.neuron.reset_offset) == (
            (4, 2) if imported["name"] == "cuba_conv_reset" else (0, 0))
    elif imported["name"] == "cuba_rec_delay":
        conv, _, rec = net.layers
        assert conv.bias.shape == (3, 4, 4) and len({int(b) for b in conv.bias.ravel()}) > 3  # per neuron
        assert [s.weight_exp for s in rec.synapses] == [0, 0]
        np.testing.assert_array_equal(rec.synapses[0].delays, rec.synapses[1].delays)
    elif imported["name"] == "cuba_dense":
        assert net.layers[0].bias.tolist() == list(range(-10, 22, 4))
        assert net.layers[2].neuron == Cuba(i_decay=0, v_decay=4096, vth_mant=1 << 17, bias_exp=6)
    elif imported["name"] in ("rf", "rf_iz"):
        assert [lay.neuron.kind for lay in net.layers] == [imported["name"]] * 2
        assert all(isinstance(lay.neuron, Resonator) and lay.bias is None for lay in net.layers)
        assert [[s.port for s in lay.synapses] for lay in net.layers] == [["real", "imag"]] * 2
        assert net.layers[1].synapses[1].weight.shape == (5, 8)  # the 1-D imaginary weights, reshaped
    else:
        assert [lay.neuron.kind for lay in net.layers] == ["sigma_delta", "sigma_delta", "sigma"]


@pytest.mark.parametrize("kind", ["cuba", "sdnn"])
def test_input_layer_with_neurons(kind, tmp_path):
    """netx builds the Input block with its input port unconnected (lava-nc 0.10 cannot compile it); we
    feed the input through the block's scale (and bias) with one step of latency, as SLAYER does: our
    emulator and our Lava graph agree value for value."""
    net = read_netx(nm.input_layer_file(tmp_path / f"{kind}.net", kind), time_steps=nm.S,
                    options=NetxOptions(input_message_bits=16 if kind == "sdnn" else 0))
    first = net.layers[0]
    assert first.synapses[0].kind == "conv" and first.shape == (6, 1, 1)
    if kind == "cuba":
        assert int(first.synapses[0].weight.max()) == 128 and int(first.bias.max()) == 16
        frames = (RNG.random((1, 6, 1, 1, nm.S)) < 0.6).astype(bool)
    else:
        assert isinstance(first.neuron, SigmaDelta) and first.neuron.kind == "delta"
        frames = support.graded_frames((1, 6, 1, 1, nm.S), density=0.7, low=-300, high=600, seed=3)
    names = [lay.name for lay in net.layers]
    ours = emulate(net, frames, record=True).layer_spikes
    lava = run_stream_lava(net, frames, record=names)
    assert np.count_nonzero(ours[names[0]])
    for name in names:
        np.testing.assert_array_equal(ours[name], lava[name])


def test_every_unsupported_feature_in_one_error(tmp_path):
    """Resonate-and-fire neurons in a conv block (netx builds them only behind complex dense weights, which
    are imported), pool, a neuron-less conv and an average layer: one error naming each, exit 2, no
    files."""
    torch.manual_seed(0)
    rf = {"threshold": 1.0, "period": 10, "decay": 0.1}
    blocks = [slayer.block.cuba.Conv(nm.CUBA, 2, 4, 3, padding=1), slayer.block.cuba.Pool(nm.CUBA, 2),
              slayer.block.cuba.Conv(nm.CUBA, 4, 4, 3, padding=1), slayer.block.cuba.Flatten(),
              slayer.block.rf.Dense(rf, 64, 5), slayer.block.rf_iz.Dense(rf, 5, 4),
              slayer.block.cuba.Dense(nm.CUBA, 4, 3)]
    path = tmp_path / "mixed.net"
    support.run_and_export_netx(blocks, torch.rand(1, 2, 8, 8, 4), path)
    with h5py.File(path, "a") as f:
        del f["layer/0/neuron/type"]
        f["layer/0/neuron"].create_dataset("type", (1,), "S10", [b"RF_PHASE"])
        del f["layer/2/neuron"]
        del f["layer/6/type"]
        f["layer/6"].create_dataset("type", (1,), "S10", [b"average"])
    with pytest.raises(UnsupportedError) as err:
        read_netx(path, input_shape=(2, 8, 8))
    message = str(err.value)
    assert "4 unsupported feature(s)" in message and "layer 4" not in message and "layer 5" not in message
    for expected in ("layer 0 (conv): resonate-and-fire neurons RF_PHASE", "layer 1 (pool)",
                     "layer 2 (conv): conv without a neuron", "layer 6 (average)"):
        assert expected in message
    result = CliRunner().invoke(app, ["import-netx", str(path), "--out", str(tmp_path / "ir"),
                                      "--input-shape", "2,8,8"])
    assert result.exit_code == 2 and "layer 0 (conv)" in result.output
    np.save(tmp_path / "x.npy", np.zeros((8, 8, 2, 4)))
    result = CliRunner().invoke(app, ["report", "--netx", str(path), "--input", str(tmp_path / "x.npy"),
                                      "--out", str(tmp_path / "rep")])
    assert result.exit_code == 2 and "layer 1 (pool)" in result.output
    assert not (tmp_path / "ir").exists() and not (tmp_path / "rep").exists()


def test_cli_end_to_end(imported, tmp_path):
    """import-netx → run (emulator vs Lava, strict) → report, inputs in netx's layout with a sample axis."""
    runner, options = CliRunner(), imported["options"]
    flags = ["--input-message-bits", str(options.input_message_bits)]
    if options.reset_interval:
        flags += ["--reset-interval", str(options.reset_interval),
                  "--reset-offset", str(options.reset_offset)]
    net = imported["net"]
    flat = bool(net.meta["netx_flat_input"])
    x = np.stack([_netx_layout(imported["frames"], flat)] * 2)
    np.save(tmp_path / "x.npy", x)
    shape = [] if flat else ["--input-shape", ",".join(map(str, net.input_shape))]
    result = runner.invoke(app, ["import-netx", str(imported["path"]), "--out", str(tmp_path / "ir"), *shape,
                                 "--time-steps", str(nm.S), *flags])
    assert result.exit_code == 0, result.output
    assert Network.load(tmp_path / "ir").layers[-1].name == net.output
    lava_samples = "1" if imported["name"] == "sdnn" else "0"  # Lava itself is compared in the test above
    result = runner.invoke(app, ["run", str(tmp_path / "ir"), "--input", str(tmp_path / "x.npy"),
                                 "--lava-samples", lava_samples, "--strict"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", "--netx", str(imported["path"]), "--input",
                                 str(tmp_path / "x.npy"), "--out", str(tmp_path / "rep"), "-p", "loihi2",
                                 *flags])
    assert result.exit_code == 0, result.output
    backbone = json.loads((tmp_path / "rep" / "report.json").read_text())["backbones"][0]
    expected = emulate(net, np.stack([imported["frames"]] * 2)).spike_counts
    assert backbone["spikes_per_layer"] == {k: float(np.mean(v)) for k, v in expected.items() if k != "input"}
    # a stream runs the input's S steps with no flush: both schedules price S steps per sample
    assert backbone["steps"] == nm.S and {s["steps"] for s in backbone["schedules"].values()} == {nm.S}
    per_neuron = {k: float(np.mean(v)) for k, v in expected.items()}  # exact synops read per-neuron messages
    assert backbone["input_events"] == per_neuron["input"]
    graded = {lay.name: 16 for lay in net.layers} if imported["name"] == "sdnn" else {}
    assert backbone["payload_bits"] == graded

    np.save(tmp_path / "bad.npy", x[..., :1, :] if not flat else x[:, :-1])
    result = runner.invoke(app, ["run", str(tmp_path / "ir"), "--input", str(tmp_path / "bad.npy")])
    assert result.exit_code == 2 and ("(x, y, c, T)" in result.output or "(k, T)" in result.output)


def test_ir_round_trip_keeps_the_netx_features(imported, tmp_path):
    net = imported["net"]
    net.save(tmp_path / "ir")
    back = Network.load(tmp_path / "ir")
    assert back.timing == "stream"
    assert [lay.neuron for lay in back.layers] == [lay.neuron for lay in net.layers]
    for a, b in zip(net.layers, back.layers, strict=True):
        assert (a.bias is None) == (b.bias is None) and (a.bias is None or np.array_equal(a.bias, b.bias))
        for sa, sb in zip(a.synapses, b.synapses, strict=True):
            assert sa.source == sb.source and sa.weight_bits == sb.weight_bits and sa.port == sb.port
            assert (sa.delays is None) == (sb.delays is None)


@needs_numba
@pytest.mark.parametrize("dtype", [torch.bool, torch.float32, torch.int64])
@pytest.mark.parametrize("binary", [True, False])
def test_input_kernel_equals_torch_layout(dtype, binary):
    """The compiled input pass (memory order, Lava's bool cast, counts, float64 above 2**24) equals torch."""
    from tmkt_deploy.emulator.input_kernel import to_memory_order

    gen = torch.Generator().manual_seed(3)
    frames = torch.randint(-3, 4, (3, 2, 4, 5, 6), generator=gen) * (1 << 24 if dtype == torch.int64 else 1)
    frames = frames.to(dtype)
    values, counts, messages, top = to_memory_order(frames.numpy(), binary)
    expected = frames.permute(0, 4, 2, 3, 1).reshape(3, 6, -1).to(torch.float64)
    expected = (expected != 0).double() if binary or dtype == torch.bool else expected
    assert values.dtype == (np.float64 if top >= 1 << 24 else np.float32)
    np.testing.assert_array_equal(values, expected.numpy())
    np.testing.assert_array_equal(counts, (expected != 0).flatten(1).sum(1).numpy())
    np.testing.assert_array_equal(messages, (expected != 0).sum(dim=(0, 1)).numpy())
    assert top == int(expected.abs().max())


@pytest.mark.parametrize("kind", ["delta", "sigma_delta", "sigma"])
@needs_numba
def test_sigma_delta_kernel_above_float32(kind):
    """Outputs of 2**24 and more (float64 in the kernel) still equal the torch stepper's."""
    layer = Layer(name="big", shape=(7,), neuron=SigmaDelta(kind=kind, vth_mant=3, spike_exp=0, state_exp=0),
                  synapses=[], bias=np.arange(7, dtype=np.int32) - 3)
    a_in = torch.randint(-1 << 26, 1 << 26, (2, 9, 7), generator=torch.Generator().manual_seed(4)).double()
    stepper = neuron_stepper(layer, 2, torch.device("cpu"))
    stepped = torch.stack([stepper.step(a_in[:, t], t + 1) for t in range(9)], dim=1)
    fired = fire_window(layer, a_in)
    assert fired.values.dtype == torch.float64 and fired.top == int(stepped.abs().max()) >= 1 << 24
    np.testing.assert_array_equal(fired.values.numpy(), stepped.numpy())
    np.testing.assert_array_equal(fired.counts.numpy(), (stepped != 0).flatten(1).sum(1).numpy())
    np.testing.assert_array_equal(fired.messages.numpy(), (stepped != 0).sum(dim=(0, 1)).numpy())


@pytest.mark.parametrize("kind", ["delta", "sigma_delta", "sigma"])
def test_sigma_delta_int32_overflow_equals_lava(kind):
    """Lava's sigma-delta registers and ports are numpy int32: sums beyond 2**31 wrap there, and so in our
    kernel and torch stepper (a 24-bit graded input through a dense synapse overflows within a few steps)."""
    weight = np.full((4, 6), 127, np.int32)
    weight[1], weight[2, :3] = -127, 100
    neuron = SigmaDelta(kind=kind, vth_mant=1, spike_exp=0, state_exp=0, message_bits=24)
    layer = Layer(name="out", shape=(4,), neuron=neuron, bias=np.array([0, 5, -5, 1 << 10], np.int32),
                  synapses=[Synapse(source="input", kind="dense", weight=weight, num_message_bits=24)])
    net = Network(name="wrap", input_shape=(6, 1, 1), time_steps=nm.S, layers=[layer], output="out",
                  timing="stream", input_bits=24)
    frames = np.random.default_rng(0).integers(1 << 20, 1 << 23, (1, 6, 1, 1, nm.S))
    lava = run_stream_lava(net, frames, record=["out"])["out"]
    assert np.abs(lava).max() > 1 << 30  # the sums did wrap
    np.testing.assert_array_equal(emulate(net, frames, record=True).layer_spikes["out"], lava)
    with exact_kernels():
        stepped = StreamRunner(net, torch.device("cpu"), compiled=False)(torch.as_tensor(frames))["out"]
    np.testing.assert_array_equal(stepped.values.numpy().transpose(0, 2, 1), lava)


def test_ir_refuses_an_imaginary_port_without_resonators(imported):
    """Only resonate-and-fire neurons have an imaginary input; they take no recurrence."""
    net = imported["net"]
    layer = net.layers[-1]
    syn = layer.synapses[-1]
    port = syn.port
    syn.port = "real" if port == "imag" else "imag"
    try:
        if isinstance(layer.neuron, Resonator):
            layer.synapses.append(Synapse(source=layer.name, kind="dense",
                                          weight=np.zeros((layer.num_neurons,) * 2, np.int32)))
            with pytest.raises(ValueError, match="resonate-and-fire neurons with recurrence"):
                net.validate()
            layer.synapses.pop()
        else:
            with pytest.raises(ValueError, match="only resonate-and-fire neurons have an imaginary input"):
                net.validate()
    finally:
        syn.port = port
    net.validate()
