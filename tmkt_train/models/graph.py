"""`SpikingNet`: a named DAG of SLAYER CUBA blocks, with the input encoding and the outputs TMKT needs.

SLAYER's `block.cuba` blocks chain only sequentially and return spikes alone; residual nets need a graph and
TMKT needs per-step features and membrane potentials, so the container is ours. Each node is a SLAYER block
(Conv, Dense, Pool, Flatten) or a `ResidualCuba`; their synapses, quantization and neurons are SLAYER's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from lava.lib.dl.slayer import block
from lava.lib.dl.slayer.axon import delay

from .neuron import fire
from .residual import ResidualCuba

INPUT = "input"
GRADED_MAX = 255  # Loihi 2 graded spikes carry an 8-bit payload


@dataclass
class NetOutput:
    """What one forward pass gives.

    spikes: output layer (N, K, T); features: the feature layer's spikes averaged over space (N, C, T),
    for the MAG/MRP heads; potentials: the feature layer's membrane voltage flattened (N, F, T), for CKA;
    spike_counts: total spikes per neuron layer in this batch over the whole run (energy report).
    Each tensor is aligned to the input: step t is that layer's response to input frame t, i.e. its output
    `latency[layer]` steps later (see `SpikingNet.forward`).
    """

    spikes: torch.Tensor
    features: torch.Tensor
    potentials: torch.Tensor
    spike_counts: dict[str, float]


def encode_input(x: torch.Tensor, input_scale: float) -> torch.Tensor:
    """Frames → graded spikes `clamp(round(x * input_scale), 0, 255)`: the integers the chip's input sends.

    `input_scale` maps data units (DVS event counts per bin, RGB intensity in [0, 1]) to payload units,
    where a payload of 1 weighs the same as one binary spike; a larger scale keeps more intensity levels of
    RGB frames but saturates busy DVS pixels sooner.
    """
    return torch.clamp(torch.round(x * input_scale), 0, GRADED_MAX)


def run_node(node: torch.nn.Module, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(spikes, voltage) of one node; Flatten has no neuron, so no voltage."""
    if isinstance(node, ResidualCuba):
        return node(inputs)
    (x,) = inputs
    if isinstance(node, block.cuba.Flatten):
        return node(x), None
    return fire(node.neuron, node.synapse(x))


def delay_steps(x: torch.Tensor, steps: int) -> torch.Tensor:
    """`x` shifted later in time by `steps` (SLAYER's axon delay), or `x` itself for none."""
    return delay(x, steps) if steps else x


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
        if not has_neuron(self.nodes[feature]):
            raise ValueError(f"feature node {feature!r} has no neurons (CKA reads membrane potentials)")
        self.output, self.feature = output, feature
        self.latency = latency
        self.input_shape = tuple(input_shape)
        self.input_scale = float(input_scale)
        self._infer_shapes()

    def _infer_shapes(self) -> None:
        """SLAYER neurons learn their shape on the first forward: run one so state_dicts load exactly."""
        with torch.no_grad():
            out = self(torch.zeros(1, *self.input_shape, 1))
        self.num_features = out.features.shape[1]
        self.num_potentials = out.potentials.shape[1]

    @property
    def output_latency(self) -> int:
        """Steps from an input frame to the output spikes it causes (one per neuron layer, longest path)."""
        return self.latency[self.output]

    def run(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Run T input frames followed by `output_latency` empty steps (what the chip runs: T + latency
        steps); returns every node's spikes over the whole run and the feature layer's voltage.

        Without the tail a deep net (VGGSNN: 13 neuron layers) would emit nothing within T=10 steps.
        """
        if x.dim() != 5 or tuple(x.shape[1:4]) != self.input_shape:
            expected = ", ".join(map(str, self.input_shape))
            raise ValueError(f"expected input (N, {expected}, T), got {tuple(x.shape)}")
        graded = torch.nn.functional.pad(encode_input(x, self.input_scale), (0, self.output_latency))
        values = {INPUT: graded}
        for name, sources in self.graph:
            inputs = [delay_steps(values[s], self.edge_delays[(s, name)]) for s in sources]
            values[name], voltage = run_node(self.nodes[name], inputs)
            if name == self.feature:
                feature_voltage = voltage
        return values, feature_voltage

    def window(self, spikes: torch.Tensor, name: str, steps: int) -> torch.Tensor:
        """The `steps` outputs of layer `name` that line up with the input frames (its latency later)."""
        return spikes[..., self.latency[name]:self.latency[name] + steps]

    def forward(self, x: torch.Tensor) -> NetOutput:
        """NetOutput with each layer's window aligned to the input frames; counts cover the whole run."""
        values, voltage = self.run(x)
        n, steps, lat = x.shape[0], x.shape[-1], self.latency[self.feature]
        feat = self.window(values[self.feature], self.feature, steps)
        return NetOutput(
            spikes=self.window(values[self.output], self.output, steps).reshape(n, -1, steps),
            features=feat.reshape(n, feat.shape[1], -1, steps).mean(dim=2),
            potentials=voltage[..., lat - 1:lat - 1 + steps].reshape(n, -1, steps),
            spike_counts={name: float(values[name].detach().sum()) for name, _ in self.graph
                          if has_neuron(self.nodes[name])},
        )


def predict(spikes: torch.Tensor) -> torch.Tensor:
    """Class = argmax of output spike counts over time; ties go to the lowest index (as torch.argmax)."""
    return spikes.sum(dim=-1).argmax(dim=1)
