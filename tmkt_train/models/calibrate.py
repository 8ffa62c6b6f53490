"""Data-driven initial weights, so every layer of a deep CUBA net fires before training starts.

Without batch norm (Loihi has none), zero-mean random weights lose activity layer by layer; in a deep or
narrow net the last layers stay silent and get no surrogate gradient (loss stuck at ln K). Walking the
graph in order and shifting each layer's trained weights towards positive drive until it fires at a target
rate on a real batch fixes that (an LSUV-style init for spikes). Ours because SLAYER has no such initialiser.
"""

from __future__ import annotations

import torch

from .graph import SpikingNet

SHIFT = 0.25  # per round, in units of the layer's initial weight std


def trained_weights(node: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The learnable synaptic weights of a node (fixed pool/identity weights are left alone)."""
    return [p for n, p in node.named_parameters() if n.endswith("weight") and p.requires_grad]


@torch.no_grad()
def calibrate_rates(net: SpikingNet, x: torch.Tensor, target_rate: float = 0.02,
                    max_rounds: int = 40) -> dict:
    """Shift each layer's weights up (SHIFT x their std per round) until its mean rate per neuron and step,
    in the window aligned with the input frames of `x` (N,C,H,W,T), reaches `target_rate`; layers already
    there are untouched. A shift, not a gain: zero-mean weights leave half the neurons with negative drive
    however large they are.

    Returns {layer: rate reached}. Deterministic for a given `x` and initial weights.
    """
    reached = {}
    steps = x.shape[-1]
    for name, _ in net.graph:
        node = net.nodes[name]
        weights = trained_weights(node)
        if not weights:
            continue
        size = x.shape[0] * steps * node.neuron.shape.numel()
        shifts = [SHIFT * float(w.std()) for w in weights]
        for _ in range(max_rounds):
            rate = float(net.window(net.run(x)[0][name], name, steps).sum()) / size
            if rate >= target_rate:
                break
            for w, shift in zip(weights, shifts, strict=True):
                w.add_(shift)
        reached[name] = rate
    return reached
