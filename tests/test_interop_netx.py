"""netx import: files written by lava-dl's own `export_hdf5`, read into the IR, checked against the blocks."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import support
import torch
from lava.lib.dl import slayer
from typer.testing import CliRunner

from tmkt_deploy.cli import app
from tmkt_deploy.emulator import emulate
from tmkt_deploy.interop import UnsupportedError
from tmkt_deploy.interop.netx_import import NetxOptions, read_netx
from tmkt_deploy.ir import Network

T = 12
NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny SLAYER CUBA Conv → strided Conv → Flatten → Dense chain, one forward pass, then export_hdf5."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(NEURON, 2, 4, 3, padding=1, weight_scale=2),
        slayer.block.cuba.Conv(NEURON, 4, 4, 2, stride=2, weight_scale=2),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(NEURON, 4 * 4 * 4, 5, weight_scale=2),
    ])
    graded = support.graded_frames((3, 2, 8, 8, T), density=0.4, high=4)
    path = tmp_path_factory.mktemp("netx") / "tiny.net"
    x = support.run_and_export_netx(blocks, torch.as_tensor(graded, dtype=torch.float32), path)
    return {"blocks": blocks, "path": path, "graded": graded, "spikes": x.numpy()}


def test_weights_and_neurons_match_the_blocks(trained):
    net = read_netx(trained["path"], input_shape=(2, 8, 8), time_steps=T)
    conv, strided, _, dense = trained["blocks"]
    assert [lay.name for lay in net.layers] == ["conv0", "conv1", "dense3"]
    assert [lay.shape for lay in net.layers] == [(4, 8, 8), (4, 4, 4), (5,)]
    assert net.output == "dense3" and net.input_shape == (2, 8, 8) and net.time_steps == T

    def quantized(block) -> np.ndarray:
        return block.synapse.pre_hook_fx(block.synapse.weight, descale=True).detach().numpy()

    np.testing.assert_array_equal(net.layers[0].synapses[0].weight, quantized(conv)[..., 0])
    assert net.layers[0].synapses[0].padding == (1, 1)
    syn = net.layers[1].synapses[0]
    assert syn.groups == 1 and syn.stride == (2, 2)
    np.testing.assert_array_equal(syn.weight, quantized(strided)[..., 0])
    fc = net.layers[2].synapses[0]  # netx's optimize_weight_bits: weights << s with weight_exp = -s
    np.testing.assert_array_equal(fc.weight * 2.0 ** fc.weight_exp, quantized(dense)[:, :, 0, 0, 0])
    for layer, block in zip(net.layers, (conv, strided, dense), strict=True):
        p, n = block.neuron.device_params, layer.neuron
        assert (n.i_decay, n.v_decay, n.vth_mant, n.ref_delay) == (
            p["iDecay"], p["vDecay"], p["vThMant"], p["refDelay"])


def test_imported_network_emulates_exactly_like_slayer(trained):
    """The emulator (bit-exact with Lava) on the imported IR gives SLAYER's own spikes, step for step, with
    graded input (netx's input_message_bits > 0)."""
    net = read_netx(trained["path"], input_shape=(2, 8, 8), time_steps=T,
                    options=NetxOptions(input_message_bits=8))
    ours = emulate(net, trained["graded"]).output_spikes[..., :T]
    assert trained["spikes"].any()
    np.testing.assert_array_equal(ours, trained["spikes"])


def test_cli_writes_a_loadable_ir_and_fails_cleanly(trained, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["import-netx", str(trained["path"]), "--out", str(tmp_path / "ir"),
                                 "--input-shape", "2,8,8", "--time-steps", str(T)])
    assert result.exit_code == 0, result.output
    loaded = Network.load(tmp_path / "ir")
    direct = read_netx(trained["path"], input_shape=(2, 8, 8), time_steps=T)
    assert [lay.name for lay in loaded.layers] == [lay.name for lay in direct.layers]
    np.testing.assert_array_equal(loaded.layers[2].synapses[0].weight, direct.layers[2].synapses[0].weight)

    result = runner.invoke(app, ["import-netx", str(trained["path"]), "--out", str(tmp_path / "bad")])
    assert result.exit_code != 0 and "input_shape" in result.output
    assert not (tmp_path / "bad").exists()


def test_unsupported_layers_are_named(tmp_path):
    """Delays are read now; a layer type netx cannot build is named with its index."""
    torch.manual_seed(0)
    blocks = torch.nn.ModuleList([slayer.block.cuba.Dense(NEURON, 6, 4, delay=True),
                                  slayer.block.cuba.Dense(NEURON, 4, 3)])
    support.run_and_export_netx(blocks, torch.rand(1, 6, 5), tmp_path / "delay.net")
    with h5py.File(tmp_path / "delay.net", "a") as f:  # as if trained: export clamps untrained delays to 0
        f["layer/0/delay"][...] = 2.0
    assert read_netx(tmp_path / "delay.net").layers[0].synapses[0].delays.max() == 2

    with h5py.File(tmp_path / "delay.net", "a") as f:
        del f["layer/1/type"]
        f["layer/1"].create_dataset("type", (1,), "S10", [b"average"])
    with pytest.raises(UnsupportedError, match=r"delay.net: 1 unsupported.*layer 1 \(average\)"):
        read_netx(tmp_path / "delay.net")
