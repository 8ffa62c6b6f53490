"""ResNet-18 of spiking basic blocks: conv → ResidualCuba(conv, shortcut), summed before the neuron.

Shortcuts are identity (a frozen 1x1 depthwise synapse) or a trained 1x1 strided projection where the shape
changes. The shortcut path is one neuron layer shorter, so `SpikingNet` puts one step of delay on it. A global
sum-pool gives the features the TMKT heads and CKA read (pooled features, as the papers use for ResNet).
"""

from __future__ import annotations

from ..lavadl import synapse
from .blocks import WEIGHT_SCALE, conv, dense, flatten, pool, scaled
from .graph import INPUT, SpikingNet
from .residual import ResidualCuba, identity_synapse

STAGES = [(64, 1), (128, 2), (256, 2), (512, 2)]  # (channels, stride of the first block)
BLOCKS_PER_STAGE = 2
IDENTITY_WEIGHT = 1.0  # one shortcut spike adds one unit of current, like a binary spike on a unit weight


def basic_block(neuron: dict, name: str, source: str, cin: int, cout: int, stride: int) -> list:
    """Two nodes: `{name}a` (3x3 conv, stride) and `{name}` (3x3 conv + shortcut into one neuron)."""
    if stride == 1 and cin == cout:
        shortcut = identity_synapse(cin, IDENTITY_WEIGHT)
    else:
        shortcut = synapse.Conv(cin, cout, 1, stride=stride, weight_scale=WEIGHT_SCALE)
    main = synapse.Conv(cout, cout, 3, padding=1, weight_scale=WEIGHT_SCALE)
    return [
        (f"{name}a", conv(neuron, cin, cout, 3, stride), [source]),
        (name, ResidualCuba(dict(neuron), [main, shortcut]), [f"{name}a", source]),
    ]


def build(*, num_classes: int, input_shape: tuple[int, int, int], width: float, neuron: dict,
          input_scale: float) -> SpikingNet:
    c, h, w = input_shape
    channels = scaled(64, width)
    nodes = [("stem", conv(neuron, c, channels), [INPUT])]
    prev = "stem"
    for s, (base, first_stride) in enumerate(STAGES, start=1):
        out = scaled(base, width)
        for b in range(1, BLOCKS_PER_STAGE + 1):
            stride = first_stride if b == 1 else 1
            name = f"layer{s}_{b}"
            nodes += basic_block(neuron, name, prev, channels, out, stride)
            channels, prev = out, name
            h, w = (h + 2 - 3) // stride + 1, (w + 2 - 3) // stride + 1
    nodes.append(("pool", pool(neuron, (h, w)), [prev]))
    nodes.append(("flatten", flatten(), ["pool"]))
    nodes.append(("out", dense(neuron, channels, num_classes), ["flatten"]))
    return SpikingNet(nodes, output="out", feature="pool", input_shape=input_shape, input_scale=input_scale)
