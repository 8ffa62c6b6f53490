"""`AnnNet`: a backbone of the registry run as an ANN (ReLU in place of CUBA) on one image: CKD's teacher.

CKD distils from an ANN trained on the RGB images; the papers' teacher has the student's architecture. Ours
is built by `build_model` (same registry, same graph, same synapses), then every neuron is replaced by a
ReLU, weights are float (no 8-bit pre-hook), sum-pools become average pools and weights get a ReLU (He)
init, with residual branches starting at zero (Fixup-style), because there is no batch norm to keep a deep
ReLU net's activations in range. No torchvision model and no download: any backbone the registry knows works.
The teacher never goes to the chip; it only shapes training (see tmkt_train.tmkt.ckd).
"""

from __future__ import annotations

import math

import torch

from ..lavadl import block
from .graph import INPUT, SpikingNet, has_neuron, node_synapses
from .residual import ResidualCuba


def _synapses(node: torch.nn.Module) -> list[torch.nn.Module]:
    return node_synapses(node) if has_neuron(node) else []  # Flatten has none


class AnnNet(torch.nn.Module):
    """Logits `(N, K)` of images `(N, C, H, W)` through `net`'s graph with ReLU activations."""

    def __init__(self, net: SpikingNet):
        super().__init__()
        self.net = net
        with torch.no_grad():
            for name, _ in net.graph:
                node = net.nodes[name]
                for i, syn in enumerate(_synapses(node)):
                    syn.pre_hook_fx = None
                    if isinstance(node, block.cuba.Pool):
                        syn.weight.fill_(1.0 / math.prod(syn.weight.shape[2:]))
                    elif syn.weight.requires_grad:  # trained synapses (not the frozen identity shortcut)
                        zero = isinstance(node, ResidualCuba) and i == 0
                        syn.weight.zero_() if zero else torch.nn.init.kaiming_normal_(syn.weight)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        net = self.net
        values = {INPUT: images.unsqueeze(-1)}  # one time step
        for name, sources in net.graph:
            node, inputs = net.nodes[name], [values[s] for s in sources]
            if isinstance(node, block.cuba.Flatten):
                values[name] = node(inputs[0])
                continue
            current = sum(syn(x) for syn, x in zip(_synapses(node), inputs, strict=True))
            values[name] = current if name == net.output else torch.relu(current)
        out = values[net.output]
        return out.reshape(out.shape[0], -1)
