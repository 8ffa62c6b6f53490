"""A netx network's input batch to the stream runner's memory order in one compiled CPU pass (numba).

torch needs three passes for it (a strided permute copy, a dtype cast, `count_nonzero`, the slowest of
them); this loop reads each input value once, writes it once and counts the nonzero ones (per sample, per
input neuron) and the largest |value| on the way (the first synapse's exactness bound).
"""

from __future__ import annotations

import numba
import numpy as np

from .synapse import FLOAT32_EXACT


@numba.njit(cache=True, nogil=True)
def _to_memory_order(frames, binary, out, counts, messages):
    samples, channels, height, width, steps = frames.shape
    top = 0.0
    for i in range(samples):
        count = 0
        for c in range(channels):
            for y in range(height):
                for x in range(width):
                    neuron = (y * width + x) * channels + c
                    events = 0
                    for t in range(steps):
                        v = frames[i, c, y, x, t]
                        value = np.float64(v != 0) if binary else np.float64(v)
                        out[i, t, neuron] = value
                        events += value != 0
                        top = max(top, abs(value))
                    count += events
                    messages[neuron] += events
        counts[i] = count
    return top


def to_memory_order(frames: np.ndarray, binary: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Inputs (n, C, H, W, S), any real dtype (integer values) → (n, S, H*W*C) as 0/1 where `binary` (Lava's
    bool cast), else the values; float32 where all are below 2**24 (exact), else float64. Also the nonzero
    values per sample (n,) and per input neuron (H*W*C,), and the largest |value|."""
    samples, steps = len(frames), frames.shape[-1]
    shape = (samples, steps, int(np.prod(frames.shape[1:4])))
    counts = np.empty(samples, dtype=np.int64)
    messages = np.zeros(shape[-1], dtype=np.int64)
    out = np.empty(shape, dtype=np.float32)
    top = _to_memory_order(frames, binary, out, counts, messages)
    if top >= FLOAT32_EXACT:
        out = np.empty(shape, dtype=np.float64)
        messages[:] = 0
        _to_memory_order(frames, binary, out, counts, messages)
    return out, counts, messages, int(top)
