"""Hand-built SLAYER nets and graded inputs shared by the tests/test_deploy_*.py files."""

from __future__ import annotations

import numpy as np
import support
import torch
from lava.lib.dl.slayer import block
from lava.lib.dl.slayer import synapse as slayer_synapse

from tmkt_train.models.graph import INPUT, SpikingNet
from tmkt_train.models.neuron import neuron_params
from tmkt_train.models.residual import ResidualCuba, identity_synapse

NEURON = neuron_params()


def skip_net() -> SpikingNet:
    """conv → pool → conv → residual(conv, identity shortcut from pool, delayed 1) → flatten → 2 dense."""
    torch.manual_seed(0)
    nodes = [
        ("conv1", block.cuba.Conv(dict(NEURON), 2, 4, 3, padding=1, weight_scale=3), [INPUT]),
        ("pool1", block.cuba.Pool(dict(NEURON), 2, weight_scale=1.375), ["conv1"]),
        ("conv2", block.cuba.Conv(dict(NEURON), 4, 4, 3, padding=1, weight_scale=3), ["pool1"]),
        ("res", ResidualCuba(dict(NEURON), [slayer_synapse.Conv(4, 4, 3, padding=1, weight_scale=3),
                                            identity_synapse(4, 1.5)]), ["conv2", "pool1"]),
        ("flat", block.cuba.Flatten(), ["res"]),
        ("fc", block.cuba.Dense(dict(NEURON), 4 * 4 * 4, 12, weight_scale=4), ["flat"]),
        ("out", block.cuba.Dense(dict(NEURON), 12, 5, weight_scale=6), ["fc"]),
    ]
    return SpikingNet(nodes, output="out", feature="fc", input_shape=(2, 8, 8), input_scale=8.0).eval()


def dense_net() -> SpikingNet:
    """Graded input flattened straight into a dense chain (input → flatten → dense → dense)."""
    torch.manual_seed(3)
    nodes = [
        ("flat", block.cuba.Flatten(), [INPUT]),
        ("fc", block.cuba.Dense(dict(NEURON), 2 * 3 * 3, 10, weight_scale=2), ["flat"]),
        ("out", block.cuba.Dense(dict(NEURON), 10, 4, weight_scale=6), ["fc"]),
    ]
    return SpikingNet(nodes, output="out", feature="fc", input_shape=(2, 3, 3), input_scale=8.0).eval()


def graded_input(samples: int, shape: tuple[int, ...], steps: int, seed: int = 0) -> np.ndarray:
    """Sparse graded spikes (N, C, H, W, T), small enough (1..23) that no deploy-test layer saturates."""
    return support.graded_frames((samples, *shape, steps), high=24, seed=seed)


def wide_pool_net() -> SpikingNet:
    """A 128-channel sum-pool: more depthwise groups than Lava's Conv can hold in its int8 `groups`."""
    torch.manual_seed(4)
    nodes = [
        ("conv", block.cuba.Conv(dict(NEURON), 2, 128, 3, padding=1, weight_scale=3), [INPUT]),
        ("pool", block.cuba.Pool(dict(NEURON), 2, weight_scale=1.375), ["conv"]),
        ("flat", block.cuba.Flatten(), ["pool"]),
        ("out", block.cuba.Dense(dict(NEURON), 128 * 2 * 2, 4, weight_scale=2), ["flat"]),
    ]
    return SpikingNet(nodes, output="out", feature="pool", input_shape=(2, 4, 4), input_scale=8.0).eval()
