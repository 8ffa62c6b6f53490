"""`SpikingNet`: a named DAG of SLAYER CUBA blocks, with the input encoding and the outputs TMKT needs.

SLAYER's `block.cuba` blocks chain only sequentially and return spikes alone; residual nets need a graph and
TMKT needs per-step features and membrane potentials, so the container is ours. Each node is a SLAYER block
(Conv, Dense, Pool, Flatten) or a `ResidualCuba`; their synapses, quantization and neurons are SLAYER's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tmkt_common.graph import INPUT

from ..lavadl import block
from .fast_net import FastSpikingNet
from .neuron import delay_steps, encode_input, fire
from .residual import ResidualCuba


@dataclass
class NetOutput:
    """What one forward pass gives.

    spikes: output layer (N, K, T); features: the feature layer's spikes averaged over space (N, C, T),
    for the MAG/MRP heads; potentials: the feature layer's membrane voltage flattened (N, F, T), for CKA;
    counts: total spikes per neuron layer (named by `count_names`) in this batch, a float64 tensor on the
    model's device, so reading them never waits for the GPU (`spike_counts` does, once asked);
    currents: the output neurons' synaptic input (N, K, T), i.e. the 8-bit readout weights times the spikes
    of the layer before: the linear readout TET's loss reads (the chip's output neurons integrate it);
    layers: every node's time-last spikes (`"input"`: the graded input), with their surrogate gradients:
    what the energy term and firing-rate targets read (`tmkt_train.models.energy`).
    readout_input: the spikes the output synapse reads (a separate source head reads them too).
    Each tensor is aligned to the input: step t is that layer's response up to input frame t, which the chip
    emits `latency[layer]` steps later (see `SpikingNet.forward`).
    """

    spikes: torch.Tensor
    features: torch.Tensor
    potentials: torch.Tensor
    counts: torch.Tensor
    count_names: tuple[str, ...]
    currents: torch.Tensor
    layers: dict[str, torch.Tensor]
    readout_input: torch.Tensor

    @property
    def spike_counts(self) -> dict[str, float]:
        return dict(zip(self.count_names, self.counts.tolist(), strict=True))

    @property
    def total_spikes(self) -> torch.Tensor:
        return self.counts.sum()


def spike_count(spikes: torch.Tensor) -> torch.Tensor:
    """Exact total of a time-last spike tensor `(N, ..., T)`, as a float64 scalar on its device, without a
    float64 copy of it.

    torch's `sum(dtype=torch.float64)` first casts the whole input (for VGGSNN's second layer at batch 128,
    a 3 GiB float64 copy and ~10 ms a step); float32 sums over one layer's spikes at one sample and step are
    exact while under 2**24, and bf16 on CUDA reduces into float32 without a copy.
    """
    spikes = spikes.detach()
    within = tuple(range(1, spikes.dim() - 1))
    if not within or math.prod(spikes.shape[d] for d in within) >= 2**24:
        return spikes.sum(dtype=torch.float64)
    return spikes.sum(dim=within, dtype=torch.float32).sum(dtype=torch.float64)


def run_node(node: torch.nn.Module, inputs: list[torch.Tensor],
             delayed: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(spikes, voltage) of one node; Flatten has no neuron, so no voltage."""
    if isinstance(node, ResidualCuba):
        return node(inputs, delayed)
    (x,) = inputs
    if isinstance(node, block.cuba.Flatten):
        return node(x), None
    return fire(node.neuron, node.synapse(x), delayed)


def node_synapses(node: torch.nn.Module) -> list[torch.nn.Module]:
    """The synapses of a neuron node, one per graph input, in edge order."""
    return list(node.synapses) if hasattr(node, "synapses") else [node.synapse]


def has_neuron(node: torch.nn.Module) -> bool:
    return not isinstance(node, block.cuba.Flatten)


class SpikingNet(torch.nn.Module):
    """Ordered DAG of named nodes; `graph` = [(name, [input names])] in topological order.

    `edge_delays[(src, dst)]` is the extra delay (steps) put on an edge so all inputs of a node arrive at the
    same step (each neuron layer delays by one). `output` names the classifier layer, `feature` the layer
    whose spikes/voltages TMKT's heads and CKA read.
    """

    def __init__(
        self,
        nodes: list[tuple[str, torch.nn.Module, list[str]]],
        *,
        output: str,
        feature: str,
        input_shape: tuple[int, int, int],
        input_scale: float,
    ):
        super().__init__()
        self.graph: list[tuple[str, list[str]]] = []
        self.nodes = torch.nn.ModuleDict()
        latency = {INPUT: 0}
        self.edge_delays: dict[tuple[str, str], int] = {}
        for name, module, sources in nodes:
            missing = [s for s in sources if s not in latency]
            if missing:
                raise ValueError(f"node {name!r} reads {missing}, which are not earlier nodes")
            arrival = max(latency[s] for s in sources)
            for s in sources:
                self.edge_delays[(s, name)] = arrival - latency[s]
            latency[name] = arrival + int(has_neuron(module))
            self.graph.append((name, list(sources)))
            self.nodes[name] = module
        for role, name in (("output", output), ("feature", feature)):
            if name not in self.nodes:
                raise ValueError(f"{role} node {name!r} is not in the graph")
        if len(dict(self.graph)[output]) != 1 or not hasattr(self.nodes[output], "synapse"):
            raise ValueError(f"output {output!r} must be one synapse from one node (the readout)")
        if not has_neuron(self.nodes[feature]):
            raise ValueError(f"feature node {feature!r} has no neurons (CKA reads membrane potentials)")
        self.output, self.feature = output, feature
        self.latency = latency
        self.input_shape = tuple(input_shape)
        self.input_scale = float(input_scale)
        self._fast = None  # the fused runner (fast_net, on tmkt_train.fast), built on the first CUDA forward
        self._infer_shapes()

    def _infer_shapes(self) -> None:
        """SLAYER neurons learn their shape on the first forward: run one so state_dicts load exactly."""
        with torch.no_grad():
            out = self(torch.zeros(1, *self.input_shape, 1))
        self.num_features = out.features.shape[1]

    @property
    def output_latency(self) -> int:
        """Steps from an input frame to the output spikes it causes (one per neuron layer, longest path)."""
        return self.latency[self.output]

    def run(self, x: torch.Tensor, chip_timing: bool = True) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Every node's spikes and the feature layer's voltage for input frames `x` (N, C, H, W, T).

        `chip_timing=True` is what the chip runs and what deploy checks against: each neuron layer delays its
        spikes by one step, shorter paths get their `edge_delays`, and T frames are followed by
        `output_latency` empty steps (T + latency steps; without the tail a deep net, VGGSNN with 13 neuron
        layers, would emit nothing within T=10). `chip_timing=False` drops every delay and the tail: T steps.
        The two agree exactly — layer `name`'s delay-free step t is its chip-timed step t + latency[name] —
        because the network is time-invariant (zero initial state, no bias), so delaying every input of a
        layer by d steps delays its output by d steps. Training uses the delay-free run: 2.3x fewer steps for
        VGGSNN at T=10, same weights, same spikes in the window that predictions count. On CUDA the
        chip-timed run is `FastSpikingNet.run`, which uses exactly that argument.
        """
        self.check_input(x)
        if x.is_cuda and chip_timing:  # SLAYER's CUDA neurons are JIT-compiled and inexact at threshold ties
            return self._fast_runner().run(x)
        graded = encode_input(x, self.input_scale)
        if chip_timing:
            graded = torch.nn.functional.pad(graded, (0, self.output_latency))
        values = {INPUT: graded}
        for name, sources in self.graph:
            inputs = [delay_steps(values[s], self.edge_delays[(s, name)] * chip_timing) for s in sources]
            values[name], voltage = run_node(self.nodes[name], inputs, delayed=chip_timing)
            if name == self.feature:
                feature_voltage = voltage
        return values, feature_voltage

    def window(self, spikes: torch.Tensor, name: str, steps: int) -> torch.Tensor:
        """The `steps` chip-timed outputs of layer `name` that line up with the input frames."""
        return spikes[..., self.latency[name]:self.latency[name] + steps]

    def forward(self, x: torch.Tensor) -> NetOutput:
        """NetOutput of the delay-free run (T steps, see `run`); spike counts cover those T steps, not the
        chip's post-sequence tail (deploy counts the chip's own spikes for energy).

        On CUDA this runs `fast_net.FastSpikingNet`: the same spikes and voltages (tests compare them
        with SLAYER's CPU reference), fused and time-folded, several times faster; SLAYER's own CUDA kernel
        also differs from its CPU reference at exact threshold ties, which the fast kernel does not.
        """
        if x.is_cuda:
            return self._fast_runner()(x)
        values, voltage = self.run(x, chip_timing=False)
        currents = self.nodes[self.output].synapse(values[self.readout_source])
        return self.net_output(values, voltage, currents)

    def net_output(self, values: dict[str, torch.Tensor], voltage: torch.Tensor,
                   currents: torch.Tensor, counts: torch.Tensor | None = None) -> NetOutput:
        """`NetOutput` from every node's time-last spikes `(N, ..., T)` of the delay-free run, the feature
        layer's voltage and the readout current: one assembly for this path and the fast one. `counts`:
        the neuron layers' spike totals where the caller has them already (the fused scan counts them)."""
        out, feat = values[self.output], values[self.feature]
        n, steps = out.shape[0], out.shape[-1]
        return NetOutput(
            spikes=out.reshape(n, -1, steps).float(),
            features=feat.reshape(n, feat.shape[1], -1, steps).mean(dim=2, dtype=torch.float32),
            potentials=voltage.reshape(n, -1, steps).float(),
            counts=torch.stack([spike_count(values[name]) for name in self.neuron_layers])
            if counts is None else counts,
            count_names=self.neuron_layers,
            currents=currents.reshape(n, -1, steps).float(),
            layers=values,
            readout_input=values[self.readout_source],
        )

    def check_input(self, x: torch.Tensor) -> None:
        """One clear error for frames that are not `(N, C, H, W, T)` of this net's input shape."""
        if x.dim() != 5 or tuple(x.shape[1:4]) != self.input_shape:
            expected = ", ".join(map(str, self.input_shape))
            raise ValueError(f"expected input (N, {expected}, T), got {tuple(x.shape)}")

    @property
    def neuron_layers(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.graph if has_neuron(self.nodes[name]))

    @property
    def readout_source(self) -> str:
        """The node whose spikes the output layer reads."""
        return dict(self.graph)[self.output][0]

    def _fast_runner(self) -> torch.nn.Module:
        if self._fast is None:
            # Not a submodule: it only borrows this net's parameters (state_dict and optimiser stay ours).
            object.__setattr__(self, "_fast", FastSpikingNet(self))
        return self._fast


def predict(spikes: torch.Tensor) -> torch.Tensor:
    """Class = argmax of output spike counts over time; ties go to the lowest index (as torch.argmax)."""
    return spikes.sum(dim=-1).argmax(dim=1)
