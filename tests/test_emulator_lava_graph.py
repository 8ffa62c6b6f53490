"""The emulator against the product's own Lava graph (`lava.simulate`, fixed_pt): the three backbones,
quantized by `tmkt_deploy.quantize`, samples back to back, every layer's spikes equal at every step.

Untrained tiny backbones go quiet after a few layers, so the IR's thresholds are lowered for these runs: the
comparison then covers spikes in every layer down to the output, and every Lava feature the graph uses
(Conv, sum-pool as grouped Conv, Dense from spatial layers, residual fan-in, SpikeDelay shortcuts, LIFReset
between samples).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import support
import torch

from tmkt_deploy.emulator import emulate
from tmkt_deploy.ir import Network
from tmkt_deploy.lava.simulate import simulate
from tmkt_deploy.quantize import quantize_net
from tmkt_train.models import build_model

pytestmark = pytest.mark.lava

SHAPE = (2, 16, 16)  # the smallest input VGGSNN's four pools take


def small_backbone_ir(name: str, *, divisor: int, time_steps: int = 2) -> Network:
    """A width-1/16 backbone on 16x16 input, quantized, its thresholds divided by `divisor`."""
    torch.manual_seed(0)
    model = build_model(name, num_classes=3, input_shape=SHAPE, width=1 / 16).eval()
    ir = quantize_net(model, name=name, time_steps=time_steps)
    for layer in ir.layers:
        layer.neuron = dataclasses.replace(layer.neuron, vth_mant=max(1, layer.neuron.vth_mant // divisor))
    return ir


@pytest.mark.parametrize(("backbone", "divisor"), [("scnn", 4), ("vggsnn", 3), ("resnet18", 3)])
def test_backbones_match_the_lava_graph_layer_by_layer(backbone, divisor):
    ir = small_backbone_ir(backbone, divisor=divisor)
    frames = support.graded_frames((2, *SHAPE, ir.time_steps), density=0.4)
    lava = simulate(ir, frames)
    result = emulate(ir, frames, record=True, batch_size=1)
    for layer in ir.layers:
        assert np.array_equal(result.layer_spikes[layer.name], lava[layer.name]), layer.name
    assert np.array_equal(result.output_spikes, lava[ir.output].reshape(result.output_spikes.shape))
    assert lava[ir.output].any(), "the output layer should fire for the comparison to mean something"
