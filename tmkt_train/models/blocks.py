"""Constructors for the SLAYER `block.cuba` layers the backbones are made of, with the width multiplier.

Kept in one place so every backbone uses the same padding, initial weight scale and fixed sum-pool weights.
"""

from __future__ import annotations

from ..lavadl import block

# SLAYER's default init is a conv's; spiking layers with a threshold need somewhat larger initial weights to
# fire at all, as in lava-dl's examples (weight_scale=2).
WEIGHT_SCALE = 2.0
# Sum-pool weight as a multiple of the threshold: one input spike in the window is enough to fire.
POOL_GAIN = 1.1


def scaled(channels: int, width: float) -> int:
    """Channels after the width multiplier; never below one."""
    return max(1, round(channels * width))


def conv(neuron: dict, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> block.cuba.Conv:
    return block.cuba.Conv(dict(neuron), cin, cout, kernel, stride=stride, padding=kernel // 2,
                           weight_scale=WEIGHT_SCALE)


def pool(neuron: dict, kernel: int) -> block.cuba.Pool:
    """Sum-pool as a synapse with fixed equal weights (Loihi has no max-pool); the weights are not trained."""
    layer = block.cuba.Pool(dict(neuron), kernel, weight_scale=POOL_GAIN * neuron["threshold"])
    return layer


def dense(neuron: dict, fin: int, fout: int) -> block.cuba.Dense:
    return block.cuba.Dense(dict(neuron), fin, fout, weight_scale=WEIGHT_SCALE)


def flatten() -> block.cuba.Flatten:
    return block.cuba.Flatten()
