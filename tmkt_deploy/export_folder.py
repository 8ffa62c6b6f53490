"""The export folder (contract 3): its file names and the JSON files `export` writes and `report` reads.

    ir/            the integer IR (Network.save)       network.net    netx HDF5 (sequential nets only)
    samples.npz    graded test frames, labels, float predictions, the quantized model's spike record
    check.json     the check's result (CheckResult)    spikes.json    mean spikes per sample per layer
    activity.npz   per-neuron spike sums per schedule, what exact energy needs (energy.records.ActivityRecord)
    network.nir / network.onnx   the interop file of those targets
"""

from __future__ import annotations

import numpy as np

from tmkt_common.graph import INPUT

from .ir import Network

IR_DIR, NETX_FILE, SAMPLES_FILE = "ir", "network.net", "samples.npz"
CHECK_FILE, SPIKES_FILE, NIR_FILE, ONNX_FILE = "check.json", "spikes.json", "network.nir", "network.onnx"
ACTIVITY_FILE = "activity.npz"
EXPORT_FILES = (IR_DIR, NETX_FILE, SAMPLES_FILE, CHECK_FILE, SPIKES_FILE, ACTIVITY_FILE, NIR_FILE, ONNX_FILE)
# what a re-run replaces (besides the interop file it writes)
CHECK_FILES = (CHECK_FILE, SPIKES_FILE, ACTIVITY_FILE)


def spike_summary(ir: Network, frames: np.ndarray, counts: dict[str, np.ndarray], *, target: str) -> dict:
    """Mean spikes per sample per layer from per-sample counts (input = nonzero graded events), for the
    energy report."""
    n = frames.shape[0]
    return {"target": target, "samples": n, "time_steps": ir.time_steps, "unit": "spikes per sample",
            "input_payload_per_sample": float(frames.sum()) / n,
            "neurons": {INPUT: int(np.prod(ir.input_shape)),
                        **{lay.name: lay.num_neurons for lay in ir.layers}},
            "layers": {name: float(c.sum()) / n for name, c in counts.items()}}
