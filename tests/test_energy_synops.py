"""Synaptic-op counting: exact per-neuron fan-out on dense, conv (borders, stride, dilation, groups), pool."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tmkt_deploy.energy import count_activity, fanout
from tmkt_deploy.ir import Cuba, Layer, Network, Synapse

NEURON = Cuba(i_decay=1024, v_decay=128, vth_mant=80)


def conv(source: str, c_out: int, c_in: int, k: int, **kw) -> Synapse:
    groups = kw.get("groups", 1)
    return Synapse(source, "conv", np.ones((c_out, c_in // groups, k, k), dtype=np.int32), **kw)


def torch_fanout(c_in: int, h: int, w: int, syn: Synapse) -> np.ndarray:
    """Independent reference: fan-out = how often each input is read, via autograd of a conv of ones."""
    x = torch.ones(1, c_in, h, w, requires_grad=True)
    weight = torch.ones(syn.weight.shape)
    out = torch.nn.functional.conv2d(x, weight, stride=syn.stride, padding=syn.padding, dilation=syn.dilation,
                                     groups=syn.groups)
    out.sum().backward()
    return x.grad[0].numpy().astype(np.int64)


def test_dense_fanout_is_out_features_for_every_input():
    syn = Synapse("input", "dense", np.ones((4, 6), dtype=np.int32))
    fan = fanout(syn, (2, 1, 3), (4,))
    assert fan.shape == (2, 1, 3) and (fan == 4).all()


def test_conv_stride2_pad1_border_pixels_reach_fewer_outputs():
    # 5x5 input, 3x3 kernel, stride 2, padding 1 -> 3x3 output. Along one axis, input row y is read by
    # 1, 2, 1, 2, 1 kernel taps (hand count: y=0 only by tap 1 of output 0; y=1 by tap 0 of output 1 and
    # tap 2 of output 0; ...). Two output channels double it.
    syn = conv("input", 2, 1, 3, stride=(2, 2), padding=(1, 1))
    fan = fanout(syn, (1, 5, 5), (2, 3, 3))
    per_axis = np.array([1, 2, 1, 2, 1])
    np.testing.assert_array_equal(fan[0], 2 * np.outer(per_axis, per_axis))
    assert fan[0, 0, 0] == 2 and fan[0, 1, 1] == 8 and fan.sum() == 2 * 49


def test_valid_conv_and_dilation_hand_counts():
    valid = fanout(conv("input", 1, 1, 3), (1, 4, 4), (1, 2, 2))
    np.testing.assert_array_equal(valid[0], np.outer([1, 2, 2, 1], [1, 2, 2, 1]))
    # dilation 2 on 5x5 -> one output reading rows 0, 2, 4 only: odd rows/cols are never read
    dilated = fanout(conv("input", 1, 1, 3, dilation=(2, 2)), (1, 5, 5), (1, 1, 1))
    np.testing.assert_array_equal(dilated[0], np.outer([1, 0, 1, 0, 1], [1, 0, 1, 0, 1]))


def test_groups_connect_each_input_to_its_groups_output_channels_only():
    syn = conv("input", 6, 4, 1, groups=2)
    fan = fanout(syn, (4, 3, 3), (6, 3, 3))
    assert (fan == 3).all()


@pytest.mark.parametrize("h, w, k, stride, pad, dil, groups", [
    (7, 6, 3, 1, 1, 1, 1), (8, 8, 3, 2, 0, 1, 2), (9, 7, 5, 3, 2, 1, 1), (6, 6, 2, 2, 0, 1, 4),
    (9, 9, 3, 1, 2, 2, 1),
])
def test_conv_fanout_matches_torch_reference(h, w, k, stride, pad, dil, groups):
    c_in, c_out = 4, 8
    syn = conv("input", c_out, c_in, k, stride=(stride, stride), padding=(pad, pad), dilation=(dil, dil),
               groups=groups)
    ref = torch_fanout(c_in, h, w, syn)
    out_shape = (c_out, *torch.nn.functional.conv2d(torch.zeros(1, c_in, h, w), torch.zeros(syn.weight.shape),
                                                    stride=stride, padding=pad, dilation=dil,
                                                    groups=groups).shape[2:])
    np.testing.assert_array_equal(fanout(syn, (c_in, h, w), out_shape), ref)


def tiny_net() -> Network:
    """input (1,5,5) -conv s2 p1-> c1 (2,3,3) -sum-pool 3x3 (groups=2)-> p1 (2,1,1) -dense-> fc (3,);
    fc also reads c1 directly (a residual-like second synapse, delayed to line up)."""
    layers = [
        Layer("c1", (2, 3, 3), NEURON, [conv("input", 2, 1, 3, stride=(2, 2), padding=(1, 1))]),
        Layer("p1", (2, 1, 1), NEURON, [Synapse("c1", "conv", np.ones((2, 1, 3, 3), dtype=np.int32), groups=2,
                                                stride=(3, 3), role="pool")]),
        Layer("fc", (3,), NEURON, [Synapse("p1", "dense", np.ones((3, 2), dtype=np.int32)),
                                   Synapse("c1", "dense", np.ones((3, 18), dtype=np.int32), delay=1)]),
    ]
    net = Network("tiny", (1, 5, 5), time_steps=4, layers=layers, output="fc")
    net.validate()
    return net


def test_count_activity_hand_computed_totals():
    net = tiny_net()
    act = count_activity(net, {"input": 25.0, "c1": 9.0, "p1": 2.0, "fc": 1.0})
    c1, p1, fc = act.layers
    # evenly spread: synops = spikes x mean fan-out = spikes x synapses / source neurons
    assert c1.synapses == 98 and c1.synops == pytest.approx(25 * 98 / 25)
    assert p1.synapses == 18 and p1.synops == pytest.approx(9.0)  # pool: each c1 neuron reaches one p1 neuron
    assert fc.synapses == 6 + 54 and fc.synops == pytest.approx(2 * 3 + 9 * 3)
    assert fc.spikes_in == 2 + 9 and act.spikes_routed == 25 + 9 + 11
    assert act.macs == 98 + 60 and act.acs == 18  # pool connections are accumulates
    assert act.steps == 4 + 3 and act.neuron_updates == (18 + 2 + 3) * 7
    assert act.spikes == 12 and act.input_spikes == 25


def test_per_neuron_counts_use_each_neurons_own_fanout():
    net = tiny_net()
    corner, centre = np.zeros((1, 5, 5)), np.zeros((1, 5, 5))
    corner[0, 0, 0], centre[0, 1, 1] = 3, 3
    base = {"c1": 0.0, "p1": 0.0, "fc": 0.0}
    assert count_activity(net, {**base, "input": corner}).layers[0].synops == 3 * 2
    assert count_activity(net, {**base, "input": centre}).layers[0].synops == 3 * 8


def test_missing_or_misshaped_counts_name_the_layer():
    net = tiny_net()
    with pytest.raises(KeyError, match="'p1'"):
        count_activity(net, {"input": 1.0, "c1": 1.0, "fc": 1.0})
    with pytest.raises(ValueError, match="'input'.*shape"):
        count_activity(net, {"input": np.zeros((5, 5)), "c1": 1.0, "p1": 1.0, "fc": 1.0})


def test_counting_an_inconsistent_network_names_the_layer():
    """fanout trusts its shapes; count_activity validates the IR first, so a bad conv is caught by name."""
    net = tiny_net()
    net.layer("c1").synapses[0].stride = (1, 1)  # 5x5 stays 5x5, but c1 is 3x3
    with pytest.raises(ValueError, match=r"IR layer 'c1'.*layer is \(2, 3, 3\)"):
        count_activity(net, {"input": 1.0, "c1": 1.0, "p1": 1.0, "fc": 1.0})
