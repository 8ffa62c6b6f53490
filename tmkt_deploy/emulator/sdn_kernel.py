"""Lava's fixed-point sigma-delta neurons over a whole window, one compiled CPU loop (numba).

Same arithmetic as `stream.SigmaDeltaState` (which steps in torch, for recurrent layers and GPUs) and as
`lava.proc.sdn.models` (`PyDeltaModelFixed`, `PySigmaDeltaModelFixed` with ReLU, `PySigmaModelFixed`), whose
registers and ports are numpy int32: here too every register is int32 and every result is cast back to int32
(numba widens int32 sums; the cast wraps them as numpy does). Every register is read and written once per
step, instead of a dozen torch passes per step, and the neuron loop vectorises over 32-bit lanes. The same
loop counts messages (nonzero outputs) per sample and per neuron and finds the largest |output| (the next
synapse's exactness bound), so none of these costs another pass over the outputs.
"""

from __future__ import annotations

import numba
import numpy as np

from ..ir import SigmaDelta
from .synapse import FLOAT32_EXACT

KIND_CODES = {"delta": 0, "sigma_delta": 1, "sigma": 2}


@numba.njit(cache=True, nogil=True)
def _sdn_window(a_in, kind, vth, bias, act_shift, state_exp, out, counts, messages):
    samples, steps, neurons = a_in.shape
    top = np.int64(0)
    sigma = np.zeros(neurons, np.int32)
    act = np.zeros(neurons, np.int32)
    residue = np.zeros(neurons, np.int32)
    bias, vth, zero = bias.astype(np.int32), np.int32(vth), np.int32(0)
    act_shift, state_exp = np.int32(act_shift), np.int32(state_exp)
    for i in range(samples):
        sigma[:] = 0
        act[:] = 0
        residue[:] = 0
        count = 0
        for t in range(steps):
            row, sent_row = a_in[i, t], out[i, t]
            if kind == 2:  # the kind is tested once per row, so the neuron loops vectorise
                for j in range(neurons):
                    value = np.int32(sigma[j] + np.int32(np.int64(row[j])))
                    sigma[j] = value
                    sent_row[j] = value
                    count += value != 0
                    messages[j] += value != 0
                    top = max(top, abs(np.int64(value)))
                continue
            for j in range(neurons):
                a = np.int32(np.int64(row[j]))  # the InPort's int32 sum
                if kind == 0:
                    new = np.int32(a << act_shift)
                else:
                    total = np.int32(sigma[j] + a)
                    sigma[j] = total
                    new = max(np.int32(total + bias[j]), zero)
                delta = np.int32(new - act[j] + residue[j])
                sent = delta if np.int32(abs(delta)) >= vth else zero  # numpy: abs(-2**31) stays -2**31
                residue[j] = np.int32(delta - sent)
                act[j] = new
                value = sent >> state_exp  # numpy's right_shift: floor
                sent_row[j] = value
                count += value != 0
                messages[j] += value != 0
                top = max(top, abs(np.int64(value)))
        counts[i] = count
    return top


def sdn_window(neuron: SigmaDelta, a_in: np.ndarray,
               bias_mant: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The neurons from zero state through integer inputs `a_in` (n, steps, neurons), `bias_mant` per neuron
    (Lava scales it by 2**(spike_exp + state_exp)) → outputs (n, steps, neurons) as float32 where all are
    below 2**24 (exact; the type the next conv sums in), else float64; messages (nonzero outputs) per sample
    (n,) and per neuron (neurons,); the largest |output|."""
    shift = neuron.spike_exp + neuron.state_exp
    args = (a_in, np.int64(KIND_CODES[neuron.kind]), np.int64(neuron.vth_mant << shift),
            bias_mant.astype(np.int64) << shift, np.int64(shift), np.int64(neuron.state_exp))
    counts = np.empty(len(a_in), dtype=np.int64)
    messages = np.zeros(a_in.shape[-1], dtype=np.int64)
    out = np.empty(a_in.shape, dtype=np.float32)
    top = int(_sdn_window(*args, out, counts, messages))
    if top >= FLOAT32_EXACT:  # rare: outputs float32 cannot hold, run again into float64
        out = np.empty(a_in.shape, dtype=np.float64)
        messages[:] = 0
        _sdn_window(*args, out, counts, messages)
    return out, counts, messages, top
