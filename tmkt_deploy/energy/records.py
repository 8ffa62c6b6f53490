"""The export's `activity.npz` (`export_folder.ACTIVITY_FILE`): what exact energy counting needs from a
deployment, per schedule, written at export.

Keys: `samples` (how many samples were summed); for each schedule in `SCHEDULES`, `SCHEDULE/spikes/NAME`
(int64, shaped like layer NAME or the input: spikes of each neuron, or input events of each input pixel,
summed over all samples) and `SCHEDULE/changed/NAME` (int64 scalar: neuron-steps of layer NAME whose state
changed, summed over all samples). `isolated` counts each layer's whole T + latency window, `streaming` its
first T steps (see `synops.SCHEDULES`). Sums, not means, so the file is exact; `read_activity` divides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tmkt_common.npz import write_npz
from tmkt_deploy.energy.synops import SCHEDULES
from tmkt_deploy.ir import INPUT, Network

if TYPE_CHECKING:  # the emulator imports torch; reading a record must not
    from tmkt_deploy.emulator import EmulatorResult


@dataclass
class ActivityRecord:
    """Per-neuron spike sums and changed-state sums per schedule over `samples` samples."""

    samples: int
    spikes: dict[str, dict[str, np.ndarray]]
    changed: dict[str, dict[str, int]]

    @classmethod
    def from_emulation(cls, net: Network, results: list[EmulatorResult]) -> ActivityRecord:
        """From `emulate(..., activity=True)` results (EmulatorResult) of disjoint sample chunks."""
        if any(not r.window_spikes for r in results):
            raise ValueError("ActivityRecord needs emulate(..., activity=True): no per-neuron counts")
        t = net.time_steps
        spikes = {"isolated": {}, "streaming": {}}
        changed = {"isolated": {}, "streaming": {}}
        for name in (INPUT, *(lay.name for lay in net.layers)):
            spikes["isolated"][name] = sum(r.window_spikes[name] for r in results)
            spikes["streaming"][name] = sum(r.frame_spikes[name] for r in results)
        for layer in net.layers:
            if not all(layer.name in r.changed for r in results):  # stream-timed (netx) runs: not measured
                changed = {"isolated": {}, "streaming": {}}
                break
            changed["isolated"][layer.name] = int(sum(r.changed[layer.name].sum() for r in results))
            changed["streaming"][layer.name] = int(sum(r.changed[layer.name][:, :t].sum() for r in results))
        return cls(sum(len(r.output_spikes) for r in results), spikes, changed)

    def mean_spikes(self, schedule: str) -> dict[str, np.ndarray]:
        """Per-neuron spikes per sample (what `count_activity` takes)."""
        return {name: counts / max(self.samples, 1) for name, counts in self.spikes[schedule].items()}

    def mean_changed(self, schedule: str) -> float | None:
        """Neuron-steps per sample whose state changed (the 'active = state changed' reading); None where not
        measured (stream-timed netx runs)."""
        if not self.changed[schedule]:
            return None
        return sum(self.changed[schedule].values()) / max(self.samples, 1)

    def save(self, path: str | os.PathLike) -> Path:
        arrays = {"samples": np.int64(self.samples)}
        for schedule in SCHEDULES:
            arrays.update({f"{schedule}/spikes/{k}": np.asarray(v, np.int64)
                           for k, v in self.spikes[schedule].items()})
            arrays.update({f"{schedule}/changed/{k}": np.int64(v) for k, v in self.changed[schedule].items()})
        return write_npz(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike, net: Network) -> ActivityRecord:
        """Read and check against `net` (every layer, right shapes); ValueError names the file and key."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing (written by `tmkt-deploy export` / `run` since the "
                                    "exact energy counts; run `tmkt-deploy run` on the folder again)")
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        spikes = {s: {} for s in SCHEDULES}
        changed = {s: {} for s in SCHEDULES}
        for schedule in SCHEDULES:
            for name in (INPUT, *(lay.name for lay in net.layers)):
                key = f"{schedule}/spikes/{name}"
                if key not in arrays:
                    raise ValueError(f"{path}: missing key {key!r}")
                if arrays[key].shape != tuple(net.shape_of(name)):
                    raise ValueError(f"{path}: {key!r} has shape {arrays[key].shape}, layer is "
                                     f"{tuple(net.shape_of(name))}")
                spikes[schedule][name] = arrays[key]
            for layer in net.layers:
                key = f"{schedule}/changed/{layer.name}"
                if key not in arrays:
                    raise ValueError(f"{path}: missing key {key!r}")
                changed[schedule][layer.name] = int(arrays[key])
        if "samples" not in arrays:
            raise ValueError(f"{path}: missing key 'samples'")
        return cls(int(arrays["samples"]), spikes, changed)
