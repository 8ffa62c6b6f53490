"""`FastSpikingNet`: our registry `SpikingNet`'s forward, time-folded and fused, with the same `NetOutput`.

It walks the same graph with the same input encoding as `tmkt_train.models.graph.SpikingNet.forward` (the
delay-free T-step run, see `SpikingNet.run`), and returns the same spikes, features, feature-layer voltages
(with gradients) and spike counts; the SLAYER nodes keep the parameters (optimise and checkpoint `net`).
"""

from __future__ import annotations

import torch

from tmkt_common.graph import INPUT

from ..fast.folded import flatten, fold_time, folded_layer, unfold_time
from .neuron import delay_steps, encode_input


class FastSpikingNet(torch.nn.Module):
    """Wraps a `SpikingNet`; `mixed=True` keeps activations and backward math in bf16 on CUDA; `fuse=True`
    counts each layer's spikes inside its scan and runs lone sum pools inside the scan on CUDA (off until
    checked on a GPU: see `tmkt_train.fast.folded.Options`)."""

    def __init__(self, net: torch.nn.Module, mixed: bool = True, fuse: bool = False):
        super().__init__()
        self.net = net
        self.mixed, self.fuse = mixed, fuse
        self.layers = {name: folded_layer(net.nodes[name], f"node {name!r}") for name, _ in net.graph}

    def _walk(self, x: torch.Tensor,
              count: bool = False) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None]:
        """Every node's folded spikes, the feature layer's folded voltage and, with `count`, the neuron
        layers' spike counts from their scans (float64, in `net.neuron_layers` order), delay-free over x's
        steps."""
        net = self.net
        net.check_input(x)
        steps = x.shape[-1]
        low = torch.bfloat16 if x.is_cuda and self.mixed else torch.float32
        values = {INPUT: fold_time(encode_input(x, net.input_scale))}
        counts = []
        for name, sources in net.graph:
            inputs = [values[s] for s in sources]
            layer = self.layers[name]
            if layer is None:
                values[name] = flatten(inputs[0])
                continue
            values[name], voltage, emitted = layer(inputs, steps, low, want_voltage=name == net.feature,
                                                 delay=False, count=count, fuse=self.fuse)
            if count:
                counts.append(emitted.sum(dtype=torch.float64))
            if name == net.feature:
                feature_voltage = voltage
        return values, feature_voltage, torch.stack(counts) if count else None

    def forward(self, x: torch.Tensor):  # -> the net's NetOutput
        net, steps = self.net, x.shape[-1]
        values, voltage, counts = self._walk(x, count=self.fuse)
        currents = self.layers[net.output].current([values[net.readout_source]])
        return net.net_output({name: unfold_time(v, steps) for name, v in values.items()},
                              unfold_time(voltage, steps), unfold_time(currents, steps), counts)

    @torch.no_grad()
    def run(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """`SpikingNet.run(x)` (chip timing: T frames + latency empty steps, each node delayed by its
        latency), computed as the delay-free run over the padded frames shifted by each node's latency:
        the network is time-invariant from zero state (the argument in `SpikingNet.run`'s docstring)."""
        net = self.net
        padded = torch.nn.functional.pad(x, (0, net.output_latency))
        steps = padded.shape[-1]
        values, voltage, _ = self._walk(padded)
        chip = {INPUT: encode_input(padded, net.input_scale)}
        for name, _ in net.graph:
            chip[name] = delay_steps(unfold_time(values[name], steps).float(), net.latency[name])
        # a layer's voltage leads its spikes by the one-step output delay
        return chip, delay_steps(unfold_time(voltage, steps).float(), net.latency[net.feature] - 1)
