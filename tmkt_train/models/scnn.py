"""SCNN: a small conv net (c16C3-P2-c32C3-P2-FC128-FC) for quick runs, tests and small edge chips."""

from __future__ import annotations

from .blocks import conv, dense, flatten, pool, scaled
from .graph import INPUT, SpikingNet


def build(*, num_classes: int, input_shape: tuple[int, int, int], width: float, neuron: dict,
          input_scale: float) -> SpikingNet:
    c, h, w = input_shape
    c1, c2, hidden = scaled(16, width), scaled(32, width), scaled(128, width)
    nodes = [
        ("conv1", conv(neuron, c, c1), [INPUT]),
        ("pool1", pool(neuron, 2), ["conv1"]),
        ("conv2", conv(neuron, c1, c2), ["pool1"]),
        ("pool2", pool(neuron, 2), ["conv2"]),
        ("flatten", flatten(), ["pool2"]),
        ("fc1", dense(neuron, c2 * (h // 4) * (w // 4), hidden), ["flatten"]),
        ("out", dense(neuron, hidden, num_classes), ["fc1"]),
    ]
    return SpikingNet(nodes, output="out", feature="fc1", input_shape=input_shape, input_scale=input_scale)
