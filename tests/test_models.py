"""Backbones: graph, latency alignment, input encoding, quantized weights, exact checkpoint rebuild."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from tmkt_common.errors import CheckpointError
from tmkt_train.checkpoint import Checkpoint, load_model, write_checkpoint
from tmkt_train.config import ModelConfig, TrainConfig
from tmkt_train.models import ResidualCuba, build_model, encode_input, list_models, predict
from tmkt_train.models.calibrate import calibrate_rates, trained_weights

torch.set_num_threads(1)
SHAPE = (2, 16, 16)
STEPS = 6


def tiny(name: str, seed: int = 0, **kw):
    torch.manual_seed(seed)
    return build_model(name, num_classes=5, input_shape=SHAPE, width=1 / 16, **kw)


def events(n: int = 3, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, *SHAPE, STEPS, generator=g) < 0.2).float() * 2


def test_registry_lists_the_three_backbones():
    assert list_models() == ["resnet18", "scnn", "vggsnn"]
    with pytest.raises(ValueError, match="unknown backbone 'lenet'"):
        build_model("lenet", num_classes=3)


@pytest.mark.parametrize("name", ["scnn", "vggsnn", "resnet18"])
def test_forward_shapes_and_counts(name):
    net = tiny(name)
    out = net(events())
    assert out.spikes.shape == (3, 5, STEPS)
    assert out.features.shape == (3, net.num_features, STEPS)
    assert out.potentials.shape[0::2] == (3, STEPS)
    assert set(out.spike_counts) <= set(net.nodes) and net.output in out.spike_counts
    assert out.spike_counts[net.graph[0][0]] > 0, "the first layer should fire on busy input"
    assert torch.all((out.spikes == 0) | (out.spikes == 1))
    # the readout current: the output synapse's 8-bit weights times the spikes of the layer it reads
    values, _ = net.run(events(), chip_timing=False)
    syn = net.nodes[net.output].synapse
    weight = syn.pre_hook_fx(syn.weight).flatten(1)
    source = values[net.readout_source].reshape(3, weight.shape[1], STEPS)
    torch.testing.assert_close(out.currents, torch.einsum("kf,nft->nkt", weight, source))


@pytest.mark.parametrize("name", ["scnn", "vggsnn", "resnet18"])
def test_graph_is_topological_and_delays_line_up_inputs(name):
    net = tiny(name)
    seen = {"input"}
    for node, sources in net.graph:
        assert set(sources) <= seen
        arrivals = {net.latency[s] + net.edge_delays[(s, node)] for s in sources}
        assert len(arrivals) == 1
        seen.add(node)


def test_resnet_shortcuts_are_delayed_one_step_and_summed_before_one_neuron():
    net = tiny("resnet18")
    residuals = [n for n, m in net.nodes.items() if isinstance(m, ResidualCuba)]
    assert len(residuals) == 8
    for name in residuals:
        sources = dict(net.graph)[name]
        assert sources == [f"{name}a", sources[1]]
        assert net.edge_delays[(sources[1], name)] == 1 and net.edge_delays[(f"{name}a", name)] == 0
    identity = net.nodes["layer1_2"].synapses[1]
    assert not identity.weight.requires_grad and identity.groups == identity.in_channels


def test_output_window_lines_up_with_input_frames():
    """A frame at step t can only affect output step >= t: the latency tail is cut off, not the response."""
    net = tiny("scnn").eval()
    x = events()
    late = x.clone()
    late[..., :3] = 0
    out_full, out_late = net(x).spikes, net(late).spikes
    assert out_late[..., :3].sum() == 0
    assert out_full.shape == out_late.shape == (3, 5, STEPS)


@pytest.mark.parametrize("name", ["scnn", "vggsnn", "resnet18"])
def test_delay_free_training_run_equals_the_chip_timed_window(name):
    """forward (T steps, no delays) gives exactly the chip-timed run's spikes and voltages, shifted."""
    net = tiny(name, neuron={"threshold": 0.5}).eval()
    x = events()
    with torch.no_grad():
        out = net(x)
        free, free_voltage = net.run(x, chip_timing=False)
        chip, chip_voltage = net.run(x)
    for node, _ in net.graph:
        assert torch.equal(free[node], net.window(chip[node], node, STEPS)), node
    assert free[net.output].sum() > 0, "the output must spike for the comparison to mean anything"
    assert torch.equal(out.spikes, net.window(chip[net.output], net.output, STEPS).reshape(out.spikes.shape))
    lat = net.latency[net.feature]
    assert torch.equal(free_voltage, chip_voltage[..., lat - 1:lat - 1 + STEPS])
    assert torch.equal(out.potentials, free_voltage.reshape(out.potentials.shape))


def test_input_encoding_is_clamped_rounded_graded_spikes():
    x = torch.tensor([-1.0, 0.04, 0.07, 1.0, 100.0])
    assert encode_input(x, 8.0).tolist() == [0.0, 0.0, 1.0, 8.0, 255.0]


def test_prediction_ties_go_to_lowest_index():
    spikes = torch.zeros(2, 4, 3)
    spikes[0, [1, 3], 0] = 1
    spikes[1, 2, :] = 1
    assert predict(spikes).tolist() == [1, 2]


def test_weights_are_on_the_8bit_grid_and_decays_are_fixed():
    net = tiny("resnet18")
    conv = net.nodes["stem"]
    q = conv.synapse.pre_hook_fx(conv.synapse.weight)
    assert torch.allclose(q * 32, torch.round(q * 32)) and q.abs().max() <= 4
    other = tiny("resnet18", seed=5)
    for a, b in zip(net.modules(), other.modules(), strict=True):
        if hasattr(a, "current_decay") and isinstance(a.current_decay, torch.nn.Parameter):
            assert not a.current_decay.requires_grad
            assert torch.equal(a.current_decay, b.current_decay)
            assert torch.equal(a.voltage_decay, b.voltage_decay)


@pytest.mark.parametrize("name", ["scnn", "vggsnn", "resnet18"])
def test_load_model_rebuilds_exactly(tmp_path, name):
    net = tiny(name, neuron={"threshold": 1.0}, input_scale=4.0).eval()
    model = ModelConfig(backbone=name, width=1 / 16, neuron={"threshold": 1.0}, input_scale=4.0)
    cfg = TrainConfig(model=model)
    path = tmp_path / "checkpoint.pt"
    write_checkpoint(path, Checkpoint(train=cfg, num_classes=5, input_shape=net.input_shape, time_steps=STEPS,
                                      state_dict=net.state_dict(), class_names=list("abcde")))
    loaded, ckpt = load_model(path)
    x = events()
    assert torch.equal(loaded(x).spikes, net(x).spikes)
    assert ckpt.train.model.input_scale == 4.0 and ckpt.train == cfg
    assert ckpt.train.model.neuron["threshold"] == 1.0 and ckpt.class_names == list("abcde")


def test_load_model_rejects_a_foreign_file(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"weights": 1}, path)
    with pytest.raises(CheckpointError, match="not a tmkt checkpoint"):
        load_model(path)


def test_calibration_makes_every_layer_of_a_deep_net_fire():
    net = tiny("resnet18")
    x = events(8)
    reached = calibrate_rates(net, x, target_rate=0.02)
    assert set(reached) == {n for n, m in net.nodes.items() if trained_weights(m)}
    assert all(rate >= 0.02 for rate in reached.values()), reached
    assert net(x).spikes.sum() > 0


def test_a_version_1_checkpoint_is_read_as_version_2(tmp_path):
    """Version 1 kept the run config under `config` beside duplicated fields; the reader converts it."""
    net = tiny("scnn").eval()
    cfg = TrainConfig(model=ModelConfig(width=1 / 16))
    path = tmp_path / "v1.pt"
    torch.save({"format": "tmkt-checkpoint", "version": 1, "state_dict": net.state_dict(), "epoch": 3,
                "class_names": list("abcde"), "config": {
                    "train": asdict(cfg), "num_classes": 5, "input_shape": list(SHAPE), "time_steps": 4,
                    "width": 1 / 16, "backbone": {"name": "scnn", "kwargs": {}}}}, path)
    loaded, ckpt = load_model(path)
    assert (ckpt.train, ckpt.input_shape, ckpt.time_steps, ckpt.epoch) == (cfg, SHAPE, 4, 3)
    assert torch.equal(loaded(events()).spikes, net(events()).spikes)
