"""Lava's fixed-point resonate-and-fire neurons (`lava.proc.rf.models.PyRFModelFixed`,
`lava.proc.rf_iz.models.PyRF_IZModelFixed`) over a whole window, one compiled CPU loop (numba);
`stream.ResonatorState` is the same in torch (GPUs).

Per step, as Lava computes it: both inputs (int32 InPort sums) shifted left by `state_exp` in int32; in int64
`re' = s(cos*re) - s(sin*im) + a_re`, `im' = s(sin*re) + s(cos*im) + a_im` with `s(x) = sign(x) * (|x| >>
decay_bits)`, both clipped to ±(2**23 - 1). RF_IZ spikes where `im' >= vth` and then sets `re = 0`; RF spikes
where `re' >= vth`, `im' >= 0` and the previous `im < 0`. Both set a spiking neuron's `im = vth - 1`. Our own
code: Lava steps one sample at a time in numpy."""

from __future__ import annotations

import numba
import numpy as np

from ..ir import RF_LIMIT, Resonator


@numba.njit(inline="always")
def _scaled(x: np.int64, bits: np.int64) -> np.int64:
    return -((-x) >> bits) if x < 0 else x >> bits


@numba.njit(inline="always")
def _drive(a_in: np.float64, state_exp: np.int64) -> np.int64:
    """An InPort sum as Lava adds it: cast to int32, shifted left by `state_exp` in int32."""
    return np.int64(np.int32(np.int64(np.int32(np.int64(a_in))) << state_exp))


@numba.njit(cache=True, nogil=True)
def _resonator_window(a_real, a_imag, phase, sin_decay, cos_decay, vth, state_exp, decay_bits, out, counts,
                      messages):
    samples, steps, neurons = a_real.shape
    real = np.zeros(neurons, np.int64)
    imag = np.zeros(neurons, np.int64)
    for i in range(samples):
        real[:] = 0
        imag[:] = 0
        count = 0
        for t in range(steps):
            for j in range(neurons):
                drive_re, drive_im = _drive(a_real[i, t, j], state_exp), _drive(a_imag[i, t, j], state_exp)
                re, im = real[j], imag[j]
                new_re = _scaled(cos_decay * re, decay_bits) - _scaled(sin_decay * im, decay_bits) + drive_re
                new_im = _scaled(sin_decay * re, decay_bits) + _scaled(cos_decay * im, decay_bits) + drive_im
                new_re = min(max(new_re, -RF_LIMIT), RF_LIMIT)
                new_im = min(max(new_im, -RF_LIMIT), RF_LIMIT)
                if phase:  # RF: a spike as the phase crosses zero above threshold, real part kept
                    fired = new_re >= vth and new_im >= 0 and im < 0
                    real[j] = new_re
                else:
                    fired = new_im >= vth
                    real[j] = 0 if fired else new_re
                imag[j] = vth - 1 if fired else new_im
                out[i, t, j] = fired
                count += fired
                messages[j] += fired
        counts[i] = count


def resonator_window(neuron: Resonator, a_real: np.ndarray,
                     a_imag: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spikes (n, steps, neurons) as float32 0/1 of the neurons from zero state through integer inputs
    (n, steps, neurons) on their real and imaginary ports; spikes per sample (n,) and per neuron."""
    sin_decay, cos_decay = neuron.decays()
    out = np.empty(a_real.shape, dtype=np.float32)
    counts = np.empty(len(a_real), dtype=np.int64)
    messages = np.zeros(a_real.shape[-1], dtype=np.int64)
    _resonator_window(a_real, a_imag, neuron.kind == "rf", np.int64(sin_decay), np.int64(cos_decay),
                  np.int64(neuron.vth_mant << neuron.state_exp), np.int64(neuron.state_exp),
                  np.int64(neuron.decay_bits), out, counts, messages)
    return out, counts, messages
