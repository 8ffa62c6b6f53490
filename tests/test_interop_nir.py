"""NIR export: read back with `nir.read`, then run through snnTorch's NIR importer against our emulator."""

from __future__ import annotations

import dataclasses

import nir
import numpy as np
import pytest
import support
import torch
from snntorch.import_nir import import_from_nir
from snntorch.utils import reset

from tmkt_deploy.emulator import emulate
from tmkt_deploy.interop import UnsupportedError
from tmkt_deploy.interop.nir_export import DEFAULT_DT, write_nir
from tmkt_deploy.interop.nir_run import run_client
from tmkt_deploy.ir import INPUT, Cuba, Layer, Network, Synapse
from tmkt_deploy.loihi_params import lava_dense_weight
from tmkt_deploy.quantize import quantize_net
from tmkt_train.models import build_model

T = 20
NEURON = Cuba(i_decay=1024, v_decay=128, vth_mant=64)
POOL_NEURON = Cuba(i_decay=4096, v_decay=4096, vth_mant=64)


def scnn(residual: bool = False) -> Network:
    """conv → sum-pool → (flatten) dense, optionally a 2nd dense reading d1 and the pool (residual)."""
    rng = np.random.default_rng(0)
    layers = [
        Layer("c1", (4, 8, 8), NEURON, [Synapse(INPUT, "conv", (rng.integers(-3, 5, (4, 2, 3, 3)) * 2)
                                                .astype(np.int16), padding=(1, 1))]),
        Layer("p1", (4, 4, 4), POOL_NEURON, [Synapse("c1", "conv", np.full((4, 1, 2, 2), 40, np.int16),
                                                     stride=(2, 2), groups=4, role="pool")]),
        Layer("d1", (10,), NEURON, [Synapse("p1", "dense", (rng.integers(-12, 14, (10, 64)) * 2)
                                            .astype(np.int16))]),
    ]
    if residual:
        layers.append(Layer("d2", (6,), NEURON, [
            Synapse("d1", "dense", rng.integers(-20, 30, (6, 10)).astype(np.int16)),
            Synapse("p1", "dense", rng.integers(-10, 12, (6, 64)).astype(np.int16), delay=1)]))
    net = Network("scnn", (2, 8, 8), T, layers, output=layers[-1].name)
    net.validate()
    return net


def test_nir_reads_back_with_types_shapes_and_parameters(tmp_path):
    net = scnn(residual=True)
    write_nir(net, tmp_path / "scnn.nir")
    graph = nir.read(tmp_path / "scnn.nir")

    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert kinds == {"input": "Input", "c1.syn0": "Conv2d", "c1": "CubaLIF", "p1.syn0": "SumPool2d",
                     "p1": "CubaLIF", "p1.flat": "Flatten", "d1.syn0": "Linear", "d1": "CubaLIF",
                     "d2.syn0": "Linear", "d2.syn1": "Linear", "d2": "CubaLIF", "output": "Output"}
    assert {e for e in graph.edges if e[1] == "d2"} == {("d2.syn0", "d2"), ("d2.syn1", "d2")}  # residual
    assert ("p1.flat", "d2.syn1") in graph.edges and ("p1.flat", "d1.syn0") in graph.edges
    np.testing.assert_array_equal(graph.nodes["input"].output_type["output"], [2, 8, 8])
    np.testing.assert_array_equal(graph.nodes["p1.flat"].output_type["output"], [64])
    np.testing.assert_array_equal(graph.nodes["output"].input_type["input"], [6])

    conv = graph.nodes["c1.syn0"]
    np.testing.assert_array_equal(conv.weight, net.layer("c1").synapses[0].weight)
    assert tuple(conv.padding) == (1, 1) and tuple(conv.stride) == (1, 1)
    pool = graph.nodes["p1.syn0"]
    assert tuple(pool.kernel_size) == (2, 2) and tuple(pool.stride) == (2, 2)
    np.testing.assert_array_equal(graph.nodes["d2.syn1"].weight,
                                  lava_dense_weight(net.layer("d2").synapses[1].weight))

    lif = graph.nodes["c1"]
    assert lif.tau_syn.shape == (4, 8, 8)
    np.testing.assert_allclose(DEFAULT_DT / lif.tau_syn, NEURON.i_decay / 4096)  # Euler factor = Loihi's
    np.testing.assert_allclose(DEFAULT_DT / lif.tau_mem, NEURON.v_decay / 4096)
    np.testing.assert_allclose(lif.w_in * DEFAULT_DT / lif.tau_syn, 1.0)
    np.testing.assert_allclose(lif.r * DEFAULT_DT / lif.tau_mem, 1.0)
    np.testing.assert_array_equal(lif.v_threshold, NEURON.vth_mant + 1 / 128)  # off v's 1/64 grid
    np.testing.assert_allclose(graph.nodes["p1"].w_in * DEFAULT_DT / graph.nodes["p1"].tau_syn, 40.0)


@pytest.mark.parametrize("client", ["snntorch", "norse"])
def test_nir_clients_agree_with_the_emulator(tmp_path, client):
    """Our file as each client's documented importer runs it (no hand fixes; Norse given the file's dt).
    Real-valued decays are not bit-exact (see nir_export's docstring), so we measure: output spikes aligned by
    the IR latency, and the predicted class."""
    pytest.importorskip(client)  # Norse comes with the dev / nir-clients extra
    torch.set_num_threads(1)
    net = scnn()
    write_nir(net, tmp_path / "scnn.nir")
    frames = support.graded_frames((5, 2, 8, 8, T), high=4, seed=1, dtype=np.uint8)
    latency = net.latency()

    ours = emulate(net, frames).output_spikes[..., latency:]
    theirs = run_client(nir.read(tmp_path / "scnn.nir"), frames, T, client)
    assert ours.shape == theirs.shape == (5, 10, T)
    agreement = float((ours == theirs).mean())
    same_class = float((ours.sum(-1).argmax(1) == theirs.sum(-1).argmax(1)).mean())
    print(f"{client} vs emulator: spike agreement {agreement:.4f}, same prediction {same_class:.2f}")
    assert 0.1 < ours.mean() < 0.9, "the test net must be neither silent nor saturated"
    assert agreement >= 0.99
    assert same_class == 1.0


EXACT = Cuba(i_decay=2048, v_decay=2048, vth_mant=4)  # halving decays: exact on the chip for 6 steps


@pytest.mark.parametrize("client", ["snntorch", "norse"])
def test_nir_clients_match_the_chip_spike_for_spike_where_its_arithmetic_is_exact(tmp_path, client):
    """With decays of 1/2 and 6 steps per sample, Loihi's integer states never round, so a client must give
    the emulator's spikes exactly. Weights of 2 and 4 against a threshold of 4 hit the threshold exactly
    (ties): the file's threshold (4 + 1/128) makes `v > θ` and `v >= θ` clients fire only where the chip
    does."""
    pytest.importorskip(client)
    torch.set_num_threads(1)
    rng = np.random.default_rng(3)
    layers = [Layer("c1", (3, 6, 6), EXACT, [Synapse(INPUT, "conv", (rng.integers(-1, 3, (3, 2, 3, 3)) * 2)
                                                     .astype(np.int16), padding=(1, 1))]),
              Layer("p1", (3, 3, 3), EXACT, [Synapse("c1", "conv", np.full((3, 1, 2, 2), 2, np.int16),
                                                     stride=(2, 2), groups=3, role="pool")]),
              Layer("d1", (5,), EXACT, [Synapse("p1", "dense", (rng.integers(-1, 3, (5, 27)) * 2)
                                                .astype(np.int16))])]
    net = Network("exact", (2, 6, 6), 3, layers, output="d1")
    assert net.steps_per_sample() == 6
    write_nir(net, tmp_path / "exact.nir")
    frames = support.graded_frames((40, 2, 6, 6, 3), high=2, density=0.5, seed=2, dtype=np.uint8)
    ours = emulate(net, frames, record=True)
    theirs = run_client(nir.read(tmp_path / "exact.nir"), frames, 3, client)
    np.testing.assert_array_equal(theirs, ours.output_spikes[..., net.latency():])
    assert 0.05 < ours.output_spikes.mean() and all(s.any() for s in ours.layer_spikes.values())


def first_wave_spikes(graph: nir.NIRGraph, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Each CubaLIF layer's spikes (N, *shape) in snnTorch's import, one step on each sample's frame 0."""
    module = import_from_nir(graph)
    layers = [name for name, node in graph.nodes.items() if isinstance(node, nir.CubaLIF)]
    seen: dict[str, list[np.ndarray]] = {name: [] for name in layers}

    def keep(name: str):
        def hook(_module, _inputs, output):
            seen[name].append((output if isinstance(output, torch.Tensor) else output[0]).numpy().copy())
        return hook

    handles = [module.get_submodule(name).register_forward_hook(keep(name)) for name in layers]
    with torch.no_grad():
        for sample in frames:
            reset(module)
            module(torch.as_tensor(sample[..., 0], dtype=torch.float32), None)
    for handle in handles:
        handle.remove()
    return {name: np.stack(spikes) for name, spikes in seen.items()}


def test_resnet18_residual_edges_survive_the_round_trip(tmp_path):
    """Our ResNet-18 (identity shortcuts: grouped 1x1 convs with a delay) → NIR → nir.read → snnTorch.

    snnTorch cannot follow the chip step by step (real-valued decays, no per-layer latency or shortcut delay:
    see nir_export's docstring), but one thing it must reproduce exactly: the first wave. One input frame
    reaches each layer at its IR latency with all states still zero, so no decay has rounded yet and every
    path into a residual layer (our shortcut delays make them meet) arrives together; snnTorch, with no
    latency, computes the same sums in its first step. So every layer's first-step spikes there must equal
    the emulator's at that layer's latency: weights, residual sums, pool weights and thresholds, exactly."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = quantize_net(build_model("resnet18", num_classes=4, input_shape=(2, 16, 16), width=0.125),
                       name="resnet18", time_steps=4)
    for layer in net.layers:  # untrained thresholds silence the deep layers: lower them so every layer fires
        layer.neuron = dataclasses.replace(layer.neuron, vth_mant=max(1, layer.neuron.vth_mant // 3))
    write_nir(net, tmp_path / "resnet.nir")
    graph = nir.read(tmp_path / "resnet.nir")
    fan_in = {layer.name: sum(1 for e in graph.edges if e[1] == layer.name) for layer in net.layers}
    assert fan_in == {layer.name: len(layer.synapses) for layer in net.layers}
    assert sum(n > 1 for n in fan_in.values()) >= 8  # two residual blocks in each of four stages

    frames = support.graded_frames((3, 2, 16, 16, 1), high=4, seed=5, dtype=np.uint8)
    ours = emulate(net, frames, record=True).layer_spikes
    theirs = first_wave_spikes(graph, frames)
    assert set(theirs) == {layer.name for layer in net.layers}
    for layer in net.layers:
        want = ours[layer.name][..., net.latency(layer.name)]
        assert 0 < want.mean() < 1, f"{layer.name} must fire in its first wave, but not everywhere"
        np.testing.assert_array_equal(theirs[layer.name], want, err_msg=layer.name)


def test_nir_refuses_what_it_cannot_express_naming_the_layer(tmp_path):
    net = scnn()
    net.layers[0].neuron = Cuba(i_decay=0, v_decay=128, vth_mant=64)
    with pytest.raises(UnsupportedError, match="'c1'.*decay 0"):
        write_nir(net, tmp_path / "bad.nir")
    net = scnn()
    net.layers[1].synapses[0].weight[0, 0, 0, 0] = 7
    with pytest.raises(UnsupportedError, match="'p1'.*shared weight"):
        write_nir(net, tmp_path / "bad.nir")
    assert not (tmp_path / "bad.nir").exists()
