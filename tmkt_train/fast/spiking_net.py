"""`FastSpikingNet`: our registry `SpikingNet`'s forward, time-folded and fused, with the same `NetOutput`.

It walks the same graph with the same edge delays, input encoding and latency tail as
`tmkt_train.models.graph.SpikingNet.forward`, and returns the same spikes, features, feature-layer voltages
(with gradients) and spike counts; the SLAYER nodes keep the parameters (optimise and checkpoint `net`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.graph import INPUT, NetOutput, encode_input
from .folded import delay_time, flatten, fold_time, folded_layer, unfold_time


class FastSpikingNet(torch.nn.Module):
    """Wraps a `SpikingNet`; `mixed=True` keeps activations and backward math in bf16 on CUDA."""

    def __init__(self, net: torch.nn.Module, mixed: bool = True):
        super().__init__()
        self.net = net
        self.mixed = mixed
        self.layers = {name: folded_layer(net.nodes[name], f"node {name!r}") for name, _ in net.graph}

    def forward(self, x: torch.Tensor) -> NetOutput:
        net = self.net
        if x.dim() != 5 or tuple(x.shape[1:4]) != net.input_shape:
            shape = ", ".join(map(str, net.input_shape))
            raise ValueError(f"expected input (N, {shape}, T), got {tuple(x.shape)}")
        n, steps = x.shape[0], x.shape[-1]
        total = steps + net.output_latency
        low = torch.bfloat16 if x.is_cuda and self.mixed else torch.float32
        values = {INPUT: fold_time(F.pad(encode_input(x, net.input_scale), (0, net.output_latency)))}
        counts: dict[str, torch.Tensor] = {}
        for name, sources in net.graph:
            inputs = [
                delay_time(values[s], d, total) if (d := net.edge_delays[(s, name)]) else values[s]
                for s in sources
            ]
            layer = self.layers[name]
            if layer is None:
                values[name] = flatten(inputs[0])
                continue
            values[name], voltage = layer(inputs, total, low, want_voltage=name == net.feature)
            counts[name] = values[name].detach().sum(dtype=torch.float64)  # exact beyond 2**24
            if name == net.feature:
                feature_voltage = unfold_time(voltage, total)
        lat = net.latency[net.feature]
        feature = unfold_time(values[net.feature], total)[..., lat:lat + steps].float()
        out = unfold_time(values[net.output], total)[..., net.output_latency:].float()
        return NetOutput(
            spikes=out.reshape(n, -1, steps),
            features=feature.reshape(n, feature.shape[1], -1, steps).mean(dim=2),
            potentials=feature_voltage[..., lat - 1:lat - 1 + steps].reshape(n, -1, steps),
            spike_counts=dict(zip(counts, torch.stack(list(counts.values())).tolist(), strict=True)),
        )
