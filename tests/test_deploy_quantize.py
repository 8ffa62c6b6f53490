"""SLAYER blocks / SpikingNets → integer IR (tmkt_deploy.quantize) and the netx writer; no Lava runs."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from deploy_nets import NEURON, skip_net
from lava.lib.dl.slayer import block
from lava.lib.dl.slayer.neuron.norm import MeanOnlyBatchNorm

from tmkt_common.errors import UnsupportedError
from tmkt_deploy.interop.netx_writer import write_netx
from tmkt_deploy.ir import Network
from tmkt_deploy.lava.builder import fit_groups
from tmkt_deploy.quantize import quantize_layer, quantize_net
from tmkt_train.models import build_model
from tmkt_train.models.graph import INPUT


def test_dense_block_uses_slayer_quantization():
    torch.manual_seed(1)
    dense = block.cuba.Dense(dict(NEURON), 6, 3, weight_scale=2)
    layer = quantize_layer(dense, "fc", [(INPUT, (6,), 0)])
    expected = dense.neuron.quantize_8bit(dense.synapse.weight, descale=True).detach().numpy().reshape(3, 6)
    (syn,) = layer.synapses
    np.testing.assert_array_equal(syn.weight, expected)
    assert np.all(syn.weight % 2 == 0) and syn.weight.min() >= -256 and syn.weight.max() <= 254
    params = dense.neuron.device_params
    assert (layer.neuron.i_decay, layer.neuron.v_decay, layer.neuron.vth_mant) == (
        params["iDecay"], params["vDecay"], params["vThMant"])
    assert layer.neuron.vth_mant == int(NEURON["threshold"] * 64) and syn.weight_exp == 0
    assert layer.shape == (3,)


def test_conv_and_pool_blocks():
    torch.manual_seed(2)
    conv = block.cuba.Conv(dict(NEURON), 2, 4, 3, stride=2, padding=1)
    layer = quantize_layer(conv, "c", [(INPUT, (2, 9, 9), 0)])
    (syn,) = layer.synapses
    assert syn.kind == "conv" and syn.weight.shape == (4, 2, 3, 3) and syn.stride == (2, 2)
    assert syn.padding == (1, 1) and layer.shape == (4, 5, 5)

    pool = block.cuba.Pool(dict(NEURON), 2, weight_scale=1.375)
    layer = quantize_layer(pool, "p", [("c", (4, 6, 6), 0)])
    (syn,) = layer.synapses
    assert syn.role == "pool" and syn.groups == 4 and syn.weight.shape == (4, 1, 2, 2)
    assert np.all(syn.weight == 88)  # 1.375 on SLAYER's 2/64 grid, times 64
    assert layer.shape == (4, 3, 3)

    with pytest.raises(UnsupportedError, match="'p'.*multiple of the pool kernel"):
        quantize_layer(pool, "p", [("c", (4, 5, 5), 0)])


def test_flatten_folds_and_residual_gets_a_delay():
    net = skip_net()
    ir = quantize_net(net, name="skip", time_steps=8)
    assert [lay.name for lay in ir.layers] == ["conv1", "pool1", "conv2", "res", "fc", "out"]
    res = ir.layer("res")
    assert [(s.source, s.delay, s.role) for s in res.synapses] == [("conv2", 0, "weight"),
                                                                    ("pool1", 1, "identity")]
    fc = ir.layer("fc").synapses[0]
    assert fc.source == "res" and fc.kind == "dense" and fc.weight.shape == (12, 64)
    assert ir.latency() == 6 and ir.latency("res") == 4


def test_fit_groups_keeps_the_convolution():
    """Lava's Conv holds `groups` in int8; merging groups into a block-diagonal kernel must not change it."""
    rng = np.random.default_rng(0)
    weight = rng.integers(-128, 128, size=(256, 1, 2, 2)).astype(np.int16)
    merged, groups = fit_groups(weight, 256)
    assert groups <= 127 and 256 % groups == 0
    x = torch.tensor(rng.integers(0, 2, size=(1, 256, 4, 4)), dtype=torch.float64)
    expected = torch.nn.functional.conv2d(x, torch.tensor(weight, dtype=torch.float64), stride=2, groups=256)
    got = torch.nn.functional.conv2d(x, torch.tensor(merged, dtype=torch.float64), stride=2, groups=groups)
    assert torch.equal(got, expected)


def test_unsupported_blocks_name_the_layer():
    normed = block.cuba.Dense({**NEURON, "norm": MeanOnlyBatchNorm}, 4, 2)
    with pytest.raises(UnsupportedError, match="'fc'.*normalisation"):
        quantize_layer(normed, "fc", [(INPUT, (4,), 0)])
    graded = block.cuba.Dense({**NEURON, "graded_spike": True}, 4, 2)
    with pytest.raises(UnsupportedError, match="'g'.*graded"):
        quantize_layer(graded, "g", [(INPUT, (4,), 0)])
    affine = block.cuba.Affine(dict(NEURON), 4, 2)
    with pytest.raises(UnsupportedError, match="'a'.*Affine"):
        quantize_layer(affine, "a", [(INPUT, (4,), 0)])


@pytest.mark.parametrize("name", ["scnn", "vggsnn", "resnet18"])
def test_backbones_quantize_and_round_trip(name, tmp_path):
    model = build_model(name, num_classes=3, input_shape=(2, 16, 16), width=0.0625).eval()
    ir = quantize_net(model, name=name, time_steps=5, class_names=["a", "b", "c"])
    assert ir.latency() == model.output_latency
    loaded = Network.load(ir.save(tmp_path / "ir"))
    assert [lay.name for lay in loaded.layers] == [lay.name for lay in ir.layers]
    for a, b in zip(loaded.layers, ir.layers, strict=True):
        for sa, sb in zip(a.synapses, b.synapses, strict=True):
            np.testing.assert_array_equal(sa.weight, sb.weight)


def test_netx_writer_layout_and_refusal(tmp_path):
    model = build_model("scnn", num_classes=3, input_shape=(2, 16, 16), width=0.0625).eval()
    ir = quantize_net(model, name="scnn", time_steps=5)
    path = write_netx(ir, tmp_path / "scnn.net")
    with h5py.File(path, "r") as f:
        types = [f[f"layer/{i}/type"][0].decode() for i in range(len(f["layer"]))]
        assert types == ["input", "conv", "conv", "conv", "conv", "flatten", "dense", "dense"]
        assert int(f["layer/1/neuron/vThMant"][()]) == ir.layers[0].neuron.vth_mant
        np.testing.assert_array_equal(f["layer/2/weight"][()], ir.layer("pool1").synapses[0].weight)
    with pytest.raises(UnsupportedError, match="'res'.*residual"):
        write_netx(quantize_net(skip_net(), name="skip", time_steps=8), tmp_path / "skip.net")
    assert not (tmp_path / "skip.net").exists()
