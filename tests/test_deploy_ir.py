"""The IR's own rules: steps per sample, shape validation naming the layer, the conv output size and the
grouped-conv merge every target shares (checked against torch's conv2d)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tmkt_deploy.ir import Cuba, Layer, Network, Synapse, conv_output_size, merge_groups

NEURON = Cuba(i_decay=1024, v_decay=128, vth_mant=80)


def net_of(*layers: Layer, input_shape: tuple[int, int, int] = (2, 6, 6), time_steps: int = 4) -> Network:
    return Network("t", input_shape, time_steps, list(layers), output=layers[-1].name)


def conv(source: str, c_out: int, c_in: int, k: int, **kw) -> Synapse:
    return Synapse(source, "conv", np.ones((c_out, c_in // kw.get("groups", 1), k, k), dtype=np.int16), **kw)


def chain() -> Network:
    """input (2,6,6) -conv 3x3 s2 p1-> c (4,3,3) -dense-> fc (5,), plus a delayed skip input -> fc."""
    return net_of(Layer("c", (4, 3, 3), NEURON, [conv("input", 4, 2, 3, stride=(2, 2), padding=(1, 1))]),
                  Layer("fc", (5,), NEURON, [Synapse("c", "dense", np.ones((5, 36), dtype=np.int16)),
                                             Synapse("input", "dense", np.ones((5, 72), dtype=np.int16),
                                                     delay=1)]))


def test_steps_per_sample_is_frames_plus_latency():
    net = chain()
    net.validate()
    assert net.latency() == 2 and net.steps_per_sample() == 4 + 2 and net.steps_per_sample(10) == 12


@pytest.mark.parametrize("break_it, message", [
    (lambda net: setattr(net.layers[0], "shape", (4, 2, 2)),
     r"IR layer 'c': synapse from 'input': maps \(2, 6, 6\) to \(4, 3, 3\) \(kernel \(3, 3\), stride"),
    (lambda net: setattr(net.layers[0].synapses[0], "groups", 2),
     r"IR layer 'c': synapse from 'input': conv weight \(4, 2, 3, 3\) with groups=2 does not take 2 chan"),
    (lambda net: setattr(net.layers[1].synapses[0], "weight", np.ones((5, 35), dtype=np.int16)),
     r"IR layer 'fc': synapse from 'c': dense weight \(5, 35\) does not take the 36 values"),
    (lambda net: setattr(net.layers[1].synapses[1], "weight", np.ones((6, 72), dtype=np.int16)),
     r"IR layer 'fc': synapse from 'input': maps \(2, 6, 6\) to \(6,\), but the layer is \(5,\)"),
    (lambda net: setattr(net.layers[1].synapses[0], "kind", "conv"),
     r"IR layer 'fc': synapse from 'c': conv needs a \(C, H, W\) source and a 4-d weight"),
])
def test_validate_checks_shapes_and_names_the_layer(break_it, message):
    net = chain()
    break_it(net)
    with pytest.raises(ValueError, match=message):
        net.validate()


def test_a_saved_ir_with_bad_shapes_does_not_load(tmp_path):
    net = chain()
    net.layers[0].shape = (4, 4, 4)
    net.save(tmp_path)
    with pytest.raises(ValueError, match="IR layer 'c'"):
        Network.load(tmp_path)


@pytest.mark.parametrize("size, k, stride, pad, dil", [(7, 3, 1, 1, 1), (8, 3, 2, 0, 1), (9, 5, 3, 2, 1),
                                                      (9, 3, 1, 2, 2), (4, 4, 4, 0, 1)])
def test_conv_output_size_and_output_shape_match_torch(size, k, stride, pad, dil):
    syn = conv("input", 3, 2, k, stride=(stride, 1), padding=(pad, 0), dilation=(dil, 1))
    out = torch.nn.functional.conv2d(torch.zeros(1, 2, size, k + 1), torch.zeros(3, 2, k, k),
                                     stride=(stride, 1), padding=(pad, 0), dilation=(dil, 1))
    assert conv_output_size(size, k, stride, pad, dil) == out.shape[2]
    assert syn.output_shape((2, size, k + 1)) == tuple(out.shape[1:])
    assert Synapse("input", "dense", np.ones((7, 12), dtype=np.int16)).output_shape((3, 2, 2)) == (7,)


@pytest.mark.parametrize("groups, merge", [(6, 2), (6, 3), (6, 6), (4, 1)])
def test_merge_groups_keeps_the_convolution(groups, merge):
    """Lava merges groups to fit int8, NIR merges all of them (groups=1): the same function, the same conv."""
    rng = np.random.default_rng(groups * 10 + merge)
    weight = rng.integers(-128, 128, size=(2 * groups, 3, 2, 2)).astype(np.int16)
    merged = merge_groups(weight, groups, merge)
    assert merged.shape == (2 * groups, 3 * merge, 2, 2) and merged.dtype == weight.dtype
    x = torch.tensor(rng.integers(0, 4, size=(2, 3 * groups, 5, 5)), dtype=torch.float64)
    expected = torch.nn.functional.conv2d(x, torch.tensor(weight, dtype=torch.float64), groups=groups)
    got = torch.nn.functional.conv2d(x, torch.tensor(merged, dtype=torch.float64), groups=groups // merge)
    assert torch.equal(got, expected)


def test_netx_import_names_the_file_and_layer_of_a_bad_shape(tmp_path):
    """read_netx leaves shape checks to Network.validate and says which file they failed in."""
    import h5py

    from tmkt_deploy.interop.netx_import import read_netx
    from tmkt_deploy.interop.netx_writer import write_netx

    net = net_of(Layer("fc1", (5,), NEURON, [Synapse("input", "dense", np.ones((5, 72), dtype=np.int16))]),
                 Layer("fc2", (3,), NEURON, [Synapse("fc1", "dense", np.ones((3, 5), dtype=np.int16))]))
    path = write_netx(net, tmp_path / "bad.net")
    with h5py.File(path, "r+") as f:  # fc2 now takes 4 inputs from fc1's 5 neurons
        del f["layer/2/weight"]
        f["layer/2/weight"] = np.ones((3, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"bad\.net: IR layer 'dense2': synapse from 'dense1': dense weight"):
        read_netx(path)
