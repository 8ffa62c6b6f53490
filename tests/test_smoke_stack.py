"""Foundation smoke test: SLAYER → netx HDF5 → Lava fixed-point works on this machine, spike for spike.

This is the seed of the deploy check: a 2-layer SLAYER CUBA net with 8-bit weights (its own quantize_8bit
pre_hook_fx), exported with `export_hdf5`, loaded by Intel's `netx.hdf5.Network` and run for 16 steps
with `Loihi2SimCfg(select_tag='fixed_pt')`, must give exactly the PyTorch model's output spikes. SLAYER blocks
already delay each layer's output by one step (`delay_shift=True`), which is Lava's one step per layer, so the
latency offset between the two is zero steps.
"""

from __future__ import annotations

import numpy as np
import pytest
import support
import torch
from lava.lib.dl import netx, slayer
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc import io

STEPS = 16
NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03, "requires_grad": False}


def _two_layer_net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        slayer.block.cuba.Dense(NEURON, 20, 16, weight_scale=2),
        slayer.block.cuba.Dense(NEURON, 16, 8, weight_scale=2),
    )


@pytest.mark.lava
def test_slayer_and_lava_fixed_point_agree(tmp_path):
    net = _two_layer_net()
    spikes_in = (torch.rand(1, 20, STEPS, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    path = tmp_path / "two_layer.net"
    expected = support.run_and_export_netx(net, spikes_in, path)[0].numpy().astype(int)  # (8, STEPS)

    lava_net = netx.hdf5.Network(net_config=str(path))
    assert len(lava_net.layers) == 2
    source = io.source.RingBuffer(data=spikes_in[0].numpy())
    sink = io.sink.RingBuffer(shape=lava_net.out.shape, buffer=STEPS)
    source.s_out.connect(lava_net.inp)
    lava_net.out.connect(sink.a_in)
    try:
        lava_net.run(condition=RunSteps(num_steps=STEPS), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        got = sink.data.get().astype(int)
    finally:
        lava_net.stop()

    assert expected.sum() > 10, "the test net must actually spike to prove anything"
    np.testing.assert_array_equal(got.sum(axis=1), expected.sum(axis=1))  # spike counts per output neuron
    np.testing.assert_array_equal(got, expected)  # and every spike at the same step
