"""The spike-exact check: spike records of the quantized PyTorch model, Lava, the emulator, an interop file.

Reference spikes come from the trained model's own `SpikingNet.run` (T frames, then the latency tail; every
node's spikes), so the deploy reference is the training code itself. A whole test set of per-layer spike
records does not fit in memory (a VGGSNN sample alone is tens of MB), so each run is kept as a `SpikeRecord`:
its output spikes in full (predictions, mismatch counts) and a digest of every layer's spikes per sample.
Two records agree on a sample when every layer's digest is equal, i.e. every spike at every step (all
sides are aligned so index t means the same step; see lava_graph.builder); where they differ, the first IR
layer (topological order) that differs is named. Accuracies: float weights (pre-hooks off), quantized weights
(the model as trained), deployed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.table import Table

from tmkt_train.atomic import atomic_write
from tmkt_train.lavadl import slayer

from .ir import INPUT, Network

DIGEST_BYTES = 16


def graded_frames(net: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Raw frames (N, C, H, W, T) → the model's own graded input spikes, int32 (what the chip receives)."""
    from tmkt_train.models.graph import encode_input

    return encode_input(x, net.input_scale).numpy().astype(np.int32)


@torch.no_grad()
def reference_spikes(net: torch.nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Spikes (N, *shape, P) int8 of every neuron node for raw frames `x` (N, C, H, W, T), over the
    P = T + output-latency steps `SpikingNet.run` runs (frames, then empty steps)."""
    from tmkt_train.models.graph import has_neuron

    values, _ = net.run(x)
    return {name: values[name].cpu().numpy().astype(np.int8) for name, _ in net.graph
            if has_neuron(net.nodes[name])}


@contextmanager
def float_weights(net: torch.nn.Module) -> Iterator[None]:
    """Run `net` with its synapses' quantization pre-hooks off (the float model), then restore them."""
    hooked = [m for m in net.modules()
              if isinstance(m, slayer.synapse.layer.GenericLayer) and m.pre_hook_fx is not None]
    saved = [m.pre_hook_fx for m in hooked]
    for m in hooked:
        m.pre_hook_fx = None
    try:
        yield
    finally:
        for m, fx in zip(hooked, saved, strict=True):
            m.pre_hook_fx = fx


def predict_counts(spikes: np.ndarray, latency: int) -> np.ndarray:
    """Class per sample = argmax of output spike counts in the window after the latency (the model's output),
    ties to the lowest index (contract 1)."""
    window = spikes[..., latency:]
    return window.reshape(window.shape[0], -1, window.shape[-1]).sum(axis=-1).argmax(axis=1)


def _digests(spikes: np.ndarray) -> np.ndarray:
    """One digest per sample of a layer's spikes (N, *shape, P), independent of the integer dtype."""
    flat = np.ascontiguousarray(spikes, dtype=np.uint8).reshape(len(spikes), -1)
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=DIGEST_BYTES).digest() for row in flat],
                    dtype=f"S{DIGEST_BYTES}")


@dataclass
class SpikeRecord:
    """One run's spikes over some samples: output spikes (N, *output shape, P) uint8 and, per recorded layer,
    one digest per sample of its whole spike record."""

    output: np.ndarray
    digests: dict[str, np.ndarray]

    @classmethod
    def from_layers(cls, ir: Network, layers: dict[str, np.ndarray]) -> SpikeRecord:
        """From full per-layer spikes (N, *shape, P); must include the output layer."""
        return cls(output=np.asarray(layers[ir.output], dtype=np.uint8),
                   digests={name: _digests(spikes) for name, spikes in layers.items()})

    @classmethod
    def concat(cls, records: list[SpikeRecord]) -> SpikeRecord:
        return cls(output=np.concatenate([r.output for r in records]),
                   digests={k: np.concatenate([r.digests[k] for r in records]) for k in records[0].digests})

    def __len__(self) -> int:
        return len(self.output)

    def head(self, count: int) -> SpikeRecord:
        """The first `count` samples."""
        return SpikeRecord(self.output[:count], {k: v[:count] for k, v in self.digests.items()})

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Flat arrays for an .npz (see `from_arrays`)."""
        digests = {f"{prefix}/digest/{k}": v for k, v in self.digests.items()}
        return {f"{prefix}/output": self.output, **digests}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> SpikeRecord:
        tag = f"{prefix}/digest/"
        return cls(output=arrays[f"{prefix}/output"],
                   digests={k.removeprefix(tag): v for k, v in arrays.items() if k.startswith(tag)})


@dataclass
class Agreement:
    """How two spike records of the same samples compare (`exact` is what `--strict` acts on)."""

    samples: int
    exact: bool
    spike_agreement: float  # share of samples with identical spikes in every compared layer at every step
    prediction_agreement: float  # share of samples with the same predicted class
    first_mismatch_layer: str | None  # earliest layer (IR order) that differs in any sample
    layers: list[str]  # the layers compared
    mismatches: list[dict] = field(default_factory=list)  # per differing sample: index, layer, output spikes


def agreement(ir: Network, ours: SpikeRecord, theirs: SpikeRecord) -> Agreement:
    """Compare two records sample by sample over the layers both recorded."""
    if ours.output.shape != theirs.output.shape:
        raise ValueError(f"output spikes differ in shape: {ours.output.shape} vs {theirs.output.shape}")
    layers = [lay.name for lay in ir.layers if lay.name in ours.digests and lay.name in theirs.digests]
    differ = {name: ours.digests[name] != theirs.digests[name] for name in layers}
    wrong = (ours.output != theirs.output).reshape(len(ours), -1).sum(axis=1)
    mismatches = []
    for n in range(len(ours)):
        first = next((name for name in layers if differ[name][n]), None)
        if first is not None or wrong[n]:
            mismatches.append({"sample": n, "first_mismatch_layer": first,
                               "output_spikes_differing": int(wrong[n])})
    bad = [name for name in layers if differ[name].any()]
    latency = ir.latency()
    same_class = predict_counts(ours.output, latency) == predict_counts(theirs.output, latency)
    return Agreement(samples=len(ours), exact=not mismatches,
                     spike_agreement=1.0 - len(mismatches) / max(1, len(ours)),
                     prediction_agreement=float(same_class.mean()) if len(ours) else 1.0,
                     first_mismatch_layer=bad[0] if bad else None, layers=layers, mismatches=mismatches)


@dataclass
class CheckResult:
    """What check.json holds. `agreement` (deployed vs quantized predictions) and `accuracy` float /
    quantized / deployed are over all `samples`, deployed being the emulator; `accuracy.lava` is Lava's on
    the first `lava_samples` (None without a Lava run)."""

    target: str
    samples: int
    lava_samples: int
    time_steps: int
    latency: int
    exact: bool
    agreement: float  # share of samples whose deployed prediction equals the quantized model's
    accuracy: dict[str, float | None]
    comparisons: dict[str, Agreement]
    predictions: dict[str, list[int]]
    files: dict[str, object] = field(default_factory=dict)  # interop files written and what was checked

    @property
    def first_mismatch(self) -> str | None:
        """`comparison: layer` of the first comparison that is not exact."""
        return next((f"{name}: {c.first_mismatch_layer or 'output'}" for name, c in self.comparisons.items()
                     if not c.exact), None)

    def to_json(self) -> dict:
        return asdict(self)


def accuracy(pred: np.ndarray | None, labels: np.ndarray) -> float | None:
    return None if pred is None or len(pred) == 0 else float(np.mean(pred == labels[:len(pred)]))


def spike_summary(ir: Network, frames: np.ndarray, counts: dict[str, np.ndarray], *, target: str) -> dict:
    """Mean spikes per sample per layer from per-sample counts (input = nonzero graded events), for the
    energy report."""
    n = frames.shape[0]
    return {"target": target, "samples": n, "time_steps": ir.time_steps, "unit": "spikes per sample",
            "input_payload_per_sample": float(frames.sum()) / n,
            "neurons": {INPUT: int(np.prod(ir.input_shape)),
                        **{lay.name: lay.num_neurons for lay in ir.layers}},
            "layers": {name: float(c.sum()) / n for name, c in counts.items()}}


def write_json(doc: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_write(path, "w") as f:
        json.dump(doc, f, indent=1)
    return path


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def check_tables(result: CheckResult) -> list[Table]:
    """A short human summary of a CheckResult: the comparisons, then the accuracies."""
    verdict = "[green]exact[/]" if result.exact else f"[red]MISMATCH[/] (first at {result.first_mismatch})"
    comparisons = Table(title=f"spike check on {result.target}: {verdict}")
    for col in ("comparison", "samples", "spike agreement", "same class", "first mismatching layer"):
        comparisons.add_column(col, justify="left" if col == "comparison" else "right")
    for name, c in result.comparisons.items():
        where = c.first_mismatch_layer or ("—" if c.exact else "output")
        comparisons.add_row(name.replace("_", " "), str(c.samples), _pct(c.spike_agreement),
                            _pct(c.prediction_agreement), where)
    acc = result.accuracy
    accuracies = Table(title=f"accuracy (latency {result.latency} steps)")
    columns = [("float", result.samples), ("quantized", result.samples), ("deployed", result.samples),
               ("lava", result.lava_samples)]
    for key, n in columns:
        accuracies.add_column(f"{key} ({n} samples)", justify="right")
    accuracies.add_row(*(_pct(acc.get(key)) for key, _ in columns))
    return [comparisons, accuracies]
