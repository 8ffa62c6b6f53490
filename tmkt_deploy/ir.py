"""The integer IR: the one description of a quantized network that every deploy target reads.

`tmkt_deploy.quantize` produces it from a checkpoint using SLAYER's own quantization; the Lava graph builder,
the netx writer, the batched emulator, the NIR/ONNX writers and the energy model only read it. Nothing here
knows about torch. Our own code: no library has a graph-shaped (residual-capable) integer description of
a CUBA network: lava-dl's netx HDF5 is a sequential chain only.

Conventions (all PyTorch order, so the IR can be compared with the trained model directly):
- neuron shapes are `(C, H, W)` for conv-like layers and `(N,)` for dense ones;
- dense weights are `(out, in)` with `in` in PyTorch's `C, H, W` flatten order when the source is spatial;
- conv weights are `(out, in // groups, kh, kw)`;
- every layer adds one time step of latency; `Synapse.delay` is extra delay (in steps) on that edge, used to
  line up paths of different depth where they meet.

Additions for networks trained elsewhere (lava-dl netx files; all optional, defaults keep the old meaning):
- `Network.timing = "stream"`: every layer starts from zero state at step 1 and runs freely (netx's run);
  the default "window" is the per-sample reset schedule described in `tmkt_deploy.emulator.engine`;
- `Layer.bias`: a per-neuron bias mantissa array (IR shape), instead of the neuron's scalar `bias_mant`;
- `SigmaDelta` neurons (Lava's Delta / SigmaDelta / Sigma) and `Resonator` (Lava's RF / RF_IZ, the
  imaginary input fed by synapses with `Synapse.port = "imag"`) next to `Cuba`; `Cuba.message_bits` and
  `Cuba.reset_interval/reset_offset` (Lava's `LIFReset` schedule);
- `Synapse.delays` (per-synapse axonal delays, Lava's DelayDense), `Synapse.weight_bits` (Lava Dense's
  `num_weight_bits`), `Synapse.num_message_bits` (0: Lava casts the input to binary spikes) and recurrence:
  a synapse whose source is its own layer reads that layer's spikes of the previous step.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from tmkt_common.atomic import write_json
from tmkt_common.documents import read_table
from tmkt_common.graph import INPUT
from tmkt_common.npz import write_npz

IR_FORMAT = "tmkt-ir"
IR_VERSION = 1


@dataclass(frozen=True)
class Cuba:
    """Loihi CUBA-LIF parameters as integers (Lava `LIF` fixed-point semantics).

    `i_decay`/`v_decay` are 12-bit (0..4096, Lava's `du`/`dv`); `vth_mant` is the threshold mantissa (Lava's
    `vth`, shifted left by 6 inside the neuron); `bias_mant`/`bias_exp` as in Lava's LIF.
    """

    i_decay: int
    v_decay: int
    vth_mant: int
    bias_mant: int = 0
    bias_exp: int = 0
    ref_delay: int = 1
    graded: bool = False
    message_bits: int = 0
    reset_interval: int = 0  # 0: never; else Lava LIFReset zeroes u, v when step % interval == offset
    reset_offset: int = 0


SigmaDeltaKind = Literal["delta", "sigma_delta", "sigma"]


@dataclass(frozen=True)
class SigmaDelta:
    """Lava's fixed-point sigma-delta neurons (lava.proc.sdn), as netx builds them for SDNN layers.

    `delta`: Lava `Delta` (netx's SDNN input layer); `sigma_delta`: `SigmaDelta` with ReLU (netx passes no
    activation mode, Lava's default is ReLU); `sigma`: `Sigma` (an output layer with `sigma_output`).
    Threshold and bias are scaled by `2**(spike_exp + state_exp)` inside Lava; outputs are graded
    (`message_bits`).
    """

    kind: SigmaDeltaKind
    vth_mant: int = 0
    spike_exp: int = 6
    state_exp: int = 6
    message_bits: int = 16


# Lava's fixed-point RF models clip the real and imaginary parts to +-(2**23 - 1) (24 bits: twice the 12-bit
# precision of their decays)
RF_LIMIT = (1 << 23) - 1


@dataclass(frozen=True)
class Resonator:
    """Lava's fixed-point resonate-and-fire neurons as netx builds them behind complex dense weights: complex
    state (real, imaginary) fed by two synapses (`Synapse.port`). `rf_iz` (`lava.proc.rf_iz.RF_IZ`, netx's
    RF types other than RF_PHASE): a spike when the imaginary part reaches `vth_mant << state_exp`, which
    resets it; `rf` (`lava.proc.rf.RF`, RF_PHASE): a spike when the imaginary part crosses zero upwards with
    the real part at or above that threshold. `period` and `alpha` are the floats netx passes (from the
    file's sinDecay/cosDecay); `decays()` turns them into Lava's integer decays."""

    kind: Literal["rf", "rf_iz"]
    vth_mant: int
    period: float
    alpha: float
    state_exp: int = 6
    decay_bits: int = 12
    message_bits: int = 0

    def decays(self) -> tuple[int, int]:
        """(sin_decay, cos_decay) as Lava's RF process computes them: numpy floats, truncated to int32."""
        angle = np.pi * 2 * 1 / self.period
        scale = 1 << self.decay_bits
        return (int(np.int32((1 - self.alpha) * np.sin(angle) * scale)),
                int(np.int32((1 - self.alpha) * np.cos(angle) * scale)))


Neuron = Cuba | SigmaDelta | Resonator


def neuron_from_dict(doc: dict) -> Neuron:
    """The neuron a saved IR layer names (`period` marks a Resonator, `kind` a SigmaDelta)."""
    if "period" in doc:
        return Resonator(**doc)
    return SigmaDelta(**doc) if "kind" in doc else Cuba(**doc)


def sends_graded(neuron: Neuron) -> bool:
    """Whether the neuron's output messages carry a payload (not just a 0/1 spike)."""
    return isinstance(neuron, SigmaDelta) or neuron.message_bits > 0


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Outputs along one axis of a convolution (PyTorch's and Lava's Conv formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def merge_groups(weight: np.ndarray, groups: int, merge: int) -> np.ndarray:
    """The same grouped convolution with `groups // merge` groups: `merge` neighbouring groups become one
    block-diagonal group (zeros where the old groups did not connect). `merge = groups` gives groups=1.

    For targets that cannot take the IR's group count: Lava's Conv keeps `groups` in an int8, NIR importers
    read the input channels from `weight.shape[1]`."""
    out_ch, per_in = weight.shape[:2]
    per_out = out_ch // groups
    merged = np.zeros((out_ch, per_in * merge, *weight.shape[2:]), dtype=weight.dtype)
    for g in range(groups):
        slot = g % merge  # position of old group g inside its merged group
        outputs = slice(g * per_out, (g + 1) * per_out)
        merged[outputs, slot * per_in:(slot + 1) * per_in] = weight[outputs]
    return merged


SynapseKind = Literal["dense", "conv"]
SynapseRole = Literal["weight", "pool", "identity"]


@dataclass
class Synapse:
    """One incoming connection of a layer: integer weights applied to the spikes of `source`.

    `role` says where the weights came from (learned, fixed sum-pool, identity shortcut); targets that treat
    them differently (NIR's SumPool2d, energy accounting) read it, the arithmetic does not.
    """

    source: str
    kind: SynapseKind
    weight: np.ndarray
    weight_exp: int = 0
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    delay: int = 0
    role: SynapseRole = "weight"
    delays: np.ndarray | None = None  # dense only: per-synapse extra steps (Lava DelayDense), weight's shape
    weight_bits: int = 8  # Lava Dense's num_weight_bits
    num_message_bits: int | None = None  # None: graded input as given; 0: Lava casts input to binary
    port: Literal["real", "imag"] = "real"  # a Resonator's input it drives ("real" for every other neuron)

    def output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        """IR shape of the neurons this synapse drives from a source of `source_shape`: (N,) for dense,
        (C, H, W) for conv."""
        if self.kind == "dense":
            return (int(self.weight.shape[0]),)
        sizes = zip(source_shape[1:], self.weight.shape[2:], self.stride, self.padding, self.dilation,
                    strict=True)
        return (int(self.weight.shape[0]), *(conv_output_size(*axis) for axis in sizes))


def _shape_problem(syn: Synapse, source_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> str | None:
    """Why `syn`'s weights cannot connect `source_shape` to `target_shape` (None when they can)."""
    w = syn.weight.shape
    if syn.kind == "dense":
        if len(w) != 2 or w[1] != int(np.prod(source_shape)):
            return f"dense weight {w} does not take the {int(np.prod(source_shape))} values of {source_shape}"
    elif syn.kind == "conv":
        if len(source_shape) != 3 or len(w) != 4:
            return f"conv needs a (C, H, W) source and a 4-d weight, got {source_shape} and {w}"
        if syn.groups < 1 or w[0] % syn.groups or w[1] * syn.groups != source_shape[0]:
            return f"conv weight {w} with groups={syn.groups} does not take {source_shape[0]} channels"
    else:
        return f"unknown synapse kind {syn.kind!r} (dense or conv)"
    out = syn.output_shape(source_shape)
    if out != tuple(target_shape):
        how = "" if syn.kind == "dense" else \
            f" (kernel {w[2:]}, stride {syn.stride}, padding {syn.padding}, dilation {syn.dilation})"
        return f"maps {source_shape} to {out}{how}, but the layer is {tuple(target_shape)}"
    return None


@dataclass
class Layer:
    """A population of CUBA neurons fed by the sum of its synapses (one `a_in` with several inputs)."""

    name: str
    shape: tuple[int, ...]
    neuron: Neuron
    synapses: list[Synapse]
    bias: np.ndarray | None = None  # per-neuron bias mantissa, IR shape (overrides the neuron's scalar)

    @property
    def num_neurons(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Network:
    """A quantized network: input geometry, layers in topological order, and what the output means."""

    name: str
    input_shape: tuple[int, int, int]
    time_steps: int
    layers: list[Layer]
    output: str
    class_names: list[str] = field(default_factory=list)
    input_bits: int = 8
    meta: dict = field(default_factory=dict)
    timing: Literal["window", "stream"] = "window"

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"IR has no layer named {name!r}; layers: {[lay.name for lay in self.layers]}")

    def shape_of(self, name: str) -> tuple[int, ...]:
        return tuple(self.input_shape) if name == INPUT else self.layer(name).shape

    def latency(self, name: str | None = None) -> int:
        """Steps from an input frame to the spikes of layer `name` (default: the output)."""
        name = name or self.output
        if name == INPUT:
            return 0
        layer = self.layer(name)
        return 1 + max((self.latency(s.source) + s.delay for s in layer.synapses if s.source != name),
                       default=-1)

    def steps_per_sample(self, time_steps: int | None = None) -> int:
        """P: steps one sample runs, its T frames (default: the IR's) then the output latency in empty steps
        so the last frame reaches the output. The trained model's chip-timed run, Lava, the emulator, ONNX
        and the energy model all run P steps per sample."""
        steps = self.time_steps if time_steps is None else time_steps
        return steps if self.timing == "stream" else steps + self.latency()  # a stream runs what it is fed

    def validate(self) -> None:
        """Raise ValueError naming the layer when the graph or a shape is inconsistent: every synapse reads an
        earlier layer, has integer weights shaped for its source, and produces the layer's shape. Targets
        rely on this and check no shapes themselves."""
        seen = {INPUT}
        for layer in self.layers:
            if not layer.synapses:
                raise ValueError(f"IR layer {layer.name!r} has no synapses")
            if layer.bias is not None and tuple(layer.bias.shape) != tuple(layer.shape):
                raise ValueError(f"IR layer {layer.name!r}: bias of shape {layer.bias.shape}, layer is "
                                 f"{tuple(layer.shape)}")
            for syn in layer.synapses:
                if syn.source == layer.name and self.timing != "stream":
                    raise ValueError(f"IR layer {layer.name!r} reads itself; recurrence needs stream timing")
                if syn.delays is not None and (syn.kind != "dense" or syn.delays.shape != syn.weight.shape):
                    raise ValueError(f"IR layer {layer.name!r}: per-synapse delays need a dense synapse and "
                                     f"the weight's shape {syn.weight.shape}")
                if syn.port != "real" and not isinstance(layer.neuron, Resonator):
                    raise ValueError(f"IR layer {layer.name!r}: a synapse into port {syn.port!r}, but only "
                                     "resonate-and-fire neurons have an imaginary input")
                if isinstance(layer.neuron, Resonator) and syn.source == layer.name:
                    raise ValueError(f"IR layer {layer.name!r}: resonate-and-fire neurons with recurrence")
                if syn.source not in seen | {layer.name}:
                    raise ValueError(
                        f"IR layer {layer.name!r} reads {syn.source!r}, which is not an earlier layer"
                    )
                if not np.issubdtype(syn.weight.dtype, np.integer):
                    raise ValueError(f"IR layer {layer.name!r}: weights from {syn.source!r} are not integers")
                problem = _shape_problem(syn, self.shape_of(syn.source), layer.shape)
                if problem:
                    raise ValueError(f"IR layer {layer.name!r}: synapse from {syn.source!r}: {problem}")
            seen.add(layer.name)
        if self.output not in seen:
            raise ValueError(f"IR output {self.output!r} is not a layer")
        for layer in self.layers:
            arrivals = {self.latency(s.source) + s.delay for s in layer.synapses if s.source != layer.name}
            if len(arrivals) > 1:
                raise ValueError(
                    f"IR layer {layer.name!r}: its inputs arrive at different steps {sorted(arrivals)}; "
                    "set Synapse.delay to line them up"
                )

    # --- serialisation: structure as JSON, arrays in one npz ---------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write `network.json` + `weights.npz` into `directory` atomically (temp names, then rename)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        layers = []
        for layer in self.layers:
            syns = []
            for k, syn in enumerate(layer.synapses):
                key = f"{layer.name}/{k}"
                arrays[key] = syn.weight
                d = asdict(syn)
                d["weight"] = key
                if syn.delays is not None:
                    d["delays"] = f"{key}/delays"
                    arrays[d["delays"]] = syn.delays
                syns.append(d)
            entry = {"name": layer.name, "shape": list(layer.shape), "neuron": asdict(layer.neuron),
                     "synapses": syns}
            if layer.bias is not None:
                entry["bias"] = f"{layer.name}/bias"
                arrays[entry["bias"]] = layer.bias
            layers.append(entry)
        doc = {"format": IR_FORMAT, "version": IR_VERSION, "name": self.name,
               "input_shape": list(self.input_shape), "time_steps": self.time_steps, "output": self.output,
               "class_names": list(self.class_names), "input_bits": self.input_bits, "meta": self.meta,
               "timing": self.timing, "layers": layers}
        write_npz(directory / "weights.npz", arrays)
        write_json(doc, directory / "network.json")
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Network:
        directory = Path(directory)
        path = directory / "network.json"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no IR here (an export writes network.json + weights.npz)")
        doc = read_table(path, "JSON", ValueError)
        if doc.get("format") != IR_FORMAT:
            raise ValueError(f"{path}: not a tmkt IR file (format={doc.get('format')!r})")
        with np.load(directory / "weights.npz") as arrays:
            layers = [
                Layer(
                    name=lay["name"],
                    shape=tuple(lay["shape"]),
                    neuron=neuron_from_dict(lay["neuron"]),
                    synapses=[
                        Synapse(**{**s, "weight": arrays[s["weight"]],
                                   "delays": arrays[s["delays"]] if s.get("delays") else None,
                                   **{k: tuple(s[k]) for k in ("stride", "padding", "dilation")}})
                        for s in lay["synapses"]
                    ],
                    bias=arrays[lay["bias"]] if lay.get("bias") else None,
                )
                for lay in doc["layers"]
            ]
        net = cls(name=doc["name"], input_shape=tuple(doc["input_shape"]), time_steps=doc["time_steps"],
                  layers=layers, output=doc["output"], class_names=doc["class_names"],
                  input_bits=doc["input_bits"], meta=doc["meta"], timing=doc.get("timing", "window"))
        net.validate()
        return net

