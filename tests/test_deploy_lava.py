"""Lava fixed-point runs of the IR vs SLAYER, spike for spike (tmkt_deploy.lava, simulate, check).

Every comparison is over whole per-layer spike records of several samples run back to back (with resets), so
a wrong decay offset, threshold rule, weight layout, latency/reset phase or residual delay shows up as a
mismatch. Kept tiny (few neurons, T = 4..8) because Lava on CPU is slow.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from deploy_nets import dense_net, graded_input, skip_net, wide_pool_net
from lava.lib.dl import netx
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc import io

from tmkt_common.errors import LavaStalled, TargetUnavailable
from tmkt_deploy.bridge import graded_frames, reference_tensors
from tmkt_deploy.check import SpikeRecord, agreement
from tmkt_deploy.interop.netx_writer import write_netx
from tmkt_deploy.lava import SpikeDelay, build_graph, frames_to_stream
from tmkt_deploy.lava.simulate import simulate
from tmkt_deploy.loihi_params import lava_lif_args, lif_params
from tmkt_deploy.quantize import quantize_net
from tmkt_train.models import build_model

pytestmark = pytest.mark.lava


def reference(net, frames: np.ndarray) -> dict[str, np.ndarray]:
    """The quantized model's spikes for graded `frames`, fed as the raw frames that encode to them."""
    raw = torch.as_tensor(frames / net.input_scale, dtype=torch.float32)
    np.testing.assert_array_equal(graded_frames(net, raw), frames)
    return {name: spikes.cpu().numpy().astype(np.int8)
            for name, spikes in reference_tensors(net, raw).items()}


def assert_exact(reference: dict[str, np.ndarray], deployed: dict[str, np.ndarray]) -> None:
    assert set(deployed) == set(reference)
    for name, spikes in reference.items():
        mismatches = int((deployed[name] != spikes).sum())
        assert mismatches == 0, f"layer {name}: {mismatches} spikes differ"


@pytest.mark.parametrize("make, shape", [(dense_net, (2, 3, 3)), (skip_net, (2, 8, 8)),
                                         (wide_pool_net, (2, 4, 4))])
def test_hand_built_nets_are_spike_exact(make, shape):
    net = make()
    frames = graded_input(3, shape, 8)
    ir = quantize_net(net, name="t", time_steps=8)
    expected = reference(net, frames)
    assert all(expected[ir.output][n].sum() > 0 for n in range(3)), "each sample must reach the output"
    assert_exact(expected, simulate(ir, frames))


def test_skip_connection_latency_is_matched_by_a_delay_line():
    """The shortcut (2 layers deep) meets the main path (3 deep) through a 1-step SpikeDelay; without the
    delay the IR is refused, naming the layer."""
    net = skip_net()
    ir = quantize_net(net, name="skip", time_steps=8)
    graph = build_graph(ir, graded_input(1, (2, 8, 8), 8))
    lines = [p for p in graph.processes if isinstance(p, SpikeDelay)]
    assert len(lines) == 1 and lines[0].proc_params["delay"] == 1
    ir.layer("res").synapses[1].delay = 0
    with pytest.raises(ValueError, match="'res'.*arrive at different steps"):
        simulate(ir, graded_input(1, (2, 8, 8), 8))


@pytest.mark.parametrize("name", ["scnn", "vggsnn", "resnet18"])
def test_backbones_build_and_are_spike_exact(name):
    model = build_model(name, num_classes=4, input_shape=(2, 16, 16), width=0.0625).eval()
    frames = graded_input(2, (2, 16, 16), 4, seed=2)
    ir = quantize_net(model, name=name, time_steps=4)
    assert_exact(reference(model, frames), simulate(ir, frames))


def test_first_mismatching_layer_is_located():
    net = skip_net()
    frames = graded_input(2, (2, 8, 8), 8, seed=3)
    ir = quantize_net(net, name="skip", time_steps=8)
    expected = SpikeRecord.from_layers(ir, reference(net, frames))
    ir.layer("conv2").synapses[0].weight *= -1  # a deliberately broken deployment
    result = agreement(ir, SpikeRecord.from_layers(ir, simulate(ir, frames)), expected)
    assert not result.exact and result.first_mismatch_layer == "conv2" and result.spike_agreement == 0.0
    assert [m["first_mismatch_layer"] for m in result.mismatches] == ["conv2", "conv2"]


def test_netx_loads_our_file_and_agrees_with_our_builder(tmp_path):
    model = build_model("scnn", num_classes=4, input_shape=(2, 16, 16), width=0.0625).eval()
    frames = graded_input(2, (2, 16, 16), 5, seed=4)
    ir = quantize_net(model, name="scnn", time_steps=5)
    ours = simulate(ir, frames, record=[ir.output])[ir.output]

    steps = ir.steps_per_sample()
    # netx resets layer i at reset_offset + i; ours resets a layer of latency l at l + 1
    lava_net = netx.hdf5.Network(net_config=str(write_netx(ir, tmp_path / "scnn.net")),
                                 input_shape=(16, 16, 2), input_message_bits=8, reset_interval=steps,
                                 reset_offset=1)
    source = io.source.RingBuffer(data=frames_to_stream(frames, steps))
    sink = io.sink.RingBuffer(shape=lava_net.out.shape, buffer=2 * steps)
    source.s_out.connect(lava_net.inp)
    lava_net.out.connect(sink.a_in)
    try:
        lava_net.run(condition=RunSteps(num_steps=2 * steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        theirs = sink.data.get().astype(np.int8).reshape(4, 2, steps).transpose(1, 0, 2)
    finally:
        lava_net.stop()
    theirs[..., : ir.latency()] = 0  # the previous sample's tail, masked as our reader does
    assert ours.sum() > 0
    np.testing.assert_array_equal(theirs, ours)


def test_float_target_runs_and_loihi2_says_what_is_missing():
    net = dense_net()
    frames = graded_input(1, (2, 3, 3), 6)
    ir = quantize_net(net, name="d", time_steps=6)
    spikes = simulate(ir, frames, target="lava-cpu")
    assert spikes["out"].shape == (1, 4, ir.steps_per_sample()) and spikes["out"].sum() > 0
    with pytest.raises(TargetUnavailable, match="lava-loihi"):
        simulate(ir, frames, target="loihi2")


def test_watchdog_names_the_stalled_steps(monkeypatch):
    """A Lava run that never returns becomes LavaStalled naming the sample's step range."""
    monkeypatch.setattr(io.source.RingBuffer, "run", lambda *args, **kwargs: time.sleep(30))
    ir = quantize_net(dense_net(), name="d", time_steps=6)
    with pytest.raises(LavaStalled, match=r"in Lava steps 1\.\.8 \(sample 0\)"):
        simulate(ir, graded_input(2, (2, 3, 3), 6), timeout_s=0.5)


def test_builder_takes_lif_parameters_from_the_shared_mapping():
    """Fixed and floating LIF processes carry exactly what `loihi_params` maps each IR neuron to."""
    ir = quantize_net(skip_net(), name="skip", time_steps=4)
    frames = graded_input(1, (2, 8, 8), 4)
    for floating in (False, True):
        graph = build_graph(ir, frames, floating=floating)
        for layer in ir.layers:
            lif = graph.neurons[layer.name]
            for key, value in lava_lif_args(lif_params(layer.neuron, layer.name), floating).items():
                assert np.all(getattr(lif, key).get() == value), (layer.name, key)
