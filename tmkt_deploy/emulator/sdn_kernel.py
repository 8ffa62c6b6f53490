"""Lava's fixed-point sigma-delta neurons over a whole window, one compiled CPU loop (numba).

Same arithmetic as `stream.SigmaDeltaState` (which steps in torch, for recurrent layers and GPUs) and as
`lava.proc.sdn.models` (`PyDeltaModelFixed`, `PySigmaDeltaModelFixed` with ReLU, `PySigmaModelFixed`), in
int64: every register is read and written once per step, instead of a dozen torch passes per step.
"""

from __future__ import annotations

import numba
import numpy as np

from ..ir import SigmaDelta

KIND_CODES = {"delta": 0, "sigma_delta": 1, "sigma": 2}


@numba.njit(cache=True, nogil=True)
def _sdn_window(a_in, kind, vth, bias, act_shift, state_exp, out):
    samples, steps, neurons = a_in.shape
    for i in range(samples):
        sigma = np.zeros(neurons, np.int64)
        act = np.zeros(neurons, np.int64)
        residue = np.zeros(neurons, np.int64)
        for t in range(steps):
            for j in range(neurons):
                a = np.int64(a_in[i, t, j])
                if kind == 2:
                    sigma[j] += a
                    out[i, t, j] = sigma[j]
                    continue
                if kind == 0:
                    new = a << act_shift
                else:
                    sigma[j] += a
                    new = max(sigma[j] + bias[j], 0)
                delta = new - act[j] + residue[j]
                sent = delta if abs(delta) >= vth else 0
                residue[j] = delta - sent
                act[j] = new
                out[i, t, j] = sent >> state_exp  # numpy's right_shift: floor


def sdn_window(neuron: SigmaDelta, a_in: np.ndarray, bias_mant: np.ndarray) -> np.ndarray:
    """Outputs (n, steps, neurons) float64 of the neurons from zero state through integer inputs `a_in`
    (n, steps, neurons); `bias_mant` per neuron (Lava scales it by 2**(spike_exp + state_exp))."""
    shift = neuron.spike_exp + neuron.state_exp
    out = np.empty(a_in.shape, dtype=np.float64)
    _sdn_window(a_in, np.int64(KIND_CODES[neuron.kind]), np.int64(neuron.vth_mant << shift),
                bias_mant.astype(np.int64) << shift, np.int64(shift), np.int64(neuron.state_exp), out)
    return out
