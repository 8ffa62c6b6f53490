"""`tmkt-deploy run` on an imported netx IR: the emulator on every input sample, our Lava graph of the same
IR on the first few, value for value (spikes, graded and sigma-delta payloads) on every layer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ir import Network
from .netx_inputs import read_array, to_ir_frames


@dataclass(frozen=True)
class NetxCheck:
    """Messages per sample and, over the Lava-checked samples, values that differ, per layer."""

    net: Network
    samples: int
    lava_samples: int
    messages: dict[str, float]
    mismatches: dict[str, int]

    @property
    def exact(self) -> bool:
        return not any(self.mismatches.values())


def check_netx_ir(directory: str | os.PathLike, inputs: str | os.PathLike, lava_samples: int) -> NetxCheck:
    from ..emulator import emulate
    from ..lava.stream import run_stream_lava

    net = Network.load(Path(directory))
    if net.timing != "stream":
        raise ValueError(f"{directory}: not an imported netx IR (`run` an export folder without --input)")
    frames = to_ir_frames(net, read_array(inputs), str(inputs))
    names = [lay.name for lay in net.layers]
    result = emulate(net, frames, record=True)
    checked = min(lava_samples, len(frames))
    mismatches = dict.fromkeys(names, 0)
    if checked:
        lava = run_stream_lava(net, frames[:checked], record=names)
        mismatches = {name: int(np.count_nonzero(result.layer_spikes[name][:checked] != lava[name]))
                      for name in names}
    messages = {name: float(np.mean(counts)) for name, counts in result.spike_counts.items()}
    return NetxCheck(net, len(frames), checked, messages, mismatches)
