"""VGGSNN: 64C3-128C3-P-256C3-256C3-P-512C3-512C3-P-512C3-512C3-P-FC, sum-pooling, CUBA neurons throughout.

CKA/heads read the last conv layer, as the KT/TMKT papers do for VGG.
"""

from __future__ import annotations

from .blocks import conv, dense, flatten, pool, scaled
from .graph import INPUT, SpikingNet

PLAN: list[int | str] = [64, 128, "P", 256, 256, "P", 512, 512, "P", 512, 512, "P"]


def build(*, num_classes: int, input_shape: tuple[int, int, int], width: float, neuron: dict,
          input_scale: float) -> SpikingNet:
    channels, h, w = input_shape
    nodes, prev, n_conv, n_pool, last_conv = [], INPUT, 0, 0, None
    for item in PLAN:
        if item == "P":
            n_pool += 1
            name, layer = f"pool{n_pool}", pool(neuron, 2)
            h, w = h // 2, w // 2
        else:
            n_conv += 1
            out = scaled(item, width)
            name, layer = f"conv{n_conv}", conv(neuron, channels, out)
            channels, last_conv = out, name
        nodes.append((name, layer, [prev]))
        prev = name
    nodes.append(("flatten", flatten(), [prev]))
    nodes.append(("out", dense(neuron, channels * h * w, num_classes), ["flatten"]))
    return SpikingNet(nodes, output="out", feature=last_conv, input_shape=input_shape,
                      input_scale=input_scale)
