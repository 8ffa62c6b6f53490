"""The spike-exact check: two spike records compared sample by sample, and the check's result.

Two records agree on a sample when every layer's digest is equal, i.e. every spike at every step (all sides
are aligned so index t means the same step; see lava.builder); where they differ, the first IR layer
(topological order) that differs is named. Accuracies: float weights (pre-hooks off), quantized weights (the
model as trained), deployed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..ir import Network
from .records import SpikeRecord, predict_counts


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
    output_spike_agreement: float = 1.0  # share of equal (neuron, step) entries of the output spike records


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
                     first_mismatch_layer=bad[0] if bad else None, layers=layers, mismatches=mismatches,
                     output_spike_agreement=1.0 - float(wrong.sum()) / max(1, ours.output.size))


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
