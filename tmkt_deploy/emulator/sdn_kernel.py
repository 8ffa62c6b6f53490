"""Lava's fixed-point sigma-delta neurons over a whole window, one compiled CPU loop (numba).

Same arithmetic as `stream.SigmaDeltaState` (which steps in torch, for recurrent layers and GPUs) and as
`lava.proc.sdn.models` (`PyDeltaModelFixed`, `PySigmaDeltaModelFixed` with ReLU, `PySigmaModelFixed`), whose
registers and ports are numpy int32: computed in int64 and wrapped to int32 after every numpy operation that
could overflow there (equal to Lava's wrapping arithmetic). Every register is read and written once per step,
instead of a dozen torch passes per step. The same
loop counts each sample's messages (nonzero outputs) and the largest |output|, which the next synapse needs
for its exactness bound, so neither costs another pass over the outputs.
"""

from __future__ import annotations

import numba
import numpy as np

from ..ir import SigmaDelta
from .synapse import FLOAT32_EXACT

KIND_CODES = {"delta": 0, "sigma_delta": 1, "sigma": 2}


INT32_HALF = np.int64(1 << 31)
INT32_MASK = np.int64((1 << 32) - 1)


@numba.njit(inline="always")
def _wrap(x: np.int64) -> np.int64:
    """numpy int32 overflow (Lava's registers and ports are int32)."""
    return ((x + INT32_HALF) & INT32_MASK) - INT32_HALF


@numba.njit(cache=True, nogil=True)
def _sdn_window(a_in, kind, vth, bias, act_shift, state_exp, out, counts):
    samples, steps, neurons = a_in.shape
    top = np.int64(0)
    sigma = np.zeros(neurons, np.int64)
    act = np.zeros(neurons, np.int64)
    residue = np.zeros(neurons, np.int64)
    for i in range(samples):
        sigma[:] = 0
        act[:] = 0
        residue[:] = 0
        count = 0
        for t in range(steps):
            row, sent_row = a_in[i, t], out[i, t]
            if kind == 2:  # the kind is tested once per row, so the neuron loops vectorise
                for j in range(neurons):
                    value = _wrap(sigma[j] + _wrap(np.int64(row[j])))
                    sigma[j] = value
                    sent_row[j] = value
                    count += value != 0
                    top = max(top, abs(value))
                continue
            for j in range(neurons):
                a = _wrap(np.int64(row[j]))  # the InPort's int32 sum
                if kind == 0:
                    new = _wrap(a << act_shift)
                else:
                    total = _wrap(sigma[j] + a)
                    sigma[j] = total
                    new = max(_wrap(total + bias[j]), 0)
                delta = _wrap(new - act[j] + residue[j])
                sent = delta if _wrap(abs(delta)) >= vth else 0  # numpy: abs(-2**31) stays -2**31
                residue[j] = _wrap(delta - sent)
                act[j] = new
                value = sent >> state_exp  # numpy's right_shift: floor
                sent_row[j] = value
                count += value != 0
                top = max(top, abs(value))
        counts[i] = count
    return top


def sdn_window(neuron: SigmaDelta, a_in: np.ndarray,
               bias_mant: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The neurons from zero state through integer inputs `a_in` (n, steps, neurons), `bias_mant` per neuron
    (Lava scales it by 2**(spike_exp + state_exp)) → outputs (n, steps, neurons) as float32 where all are
    below 2**24 (exact; the type the next conv sums in), else float64; messages per sample (n,); the
    largest |output|."""
    shift = neuron.spike_exp + neuron.state_exp
    args = (a_in, np.int64(KIND_CODES[neuron.kind]), np.int64(neuron.vth_mant << shift),
            bias_mant.astype(np.int64) << shift, np.int64(shift), np.int64(neuron.state_exp))
    counts = np.empty(len(a_in), dtype=np.int64)
    out = np.empty(a_in.shape, dtype=np.float32)
    top = int(_sdn_window(*args, out, counts))
    if top >= FLOAT32_EXACT:  # rare: outputs float32 cannot hold, run again into float64
        out = np.empty(a_in.shape, dtype=np.float64)
        _sdn_window(*args, out, counts)
    return out, counts, top
