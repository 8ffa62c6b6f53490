"""Lava's bit-accurate CUBA-LIF update (`lava.proc.lif.models.PyLifModelBitAcc`), batched in torch.

Our own code because Lava's model steps one sample at a time in numpy; this runs a whole batch per step on CPU
or GPU. Every operation mirrors Lava's fixed-point model, including what its int32 numpy arrays do:

- current: `u = trunc_toward_zero(u * (4096 - (du + 1)) / 4096)` (Lava's `ds_offset = 1`), plus `a_in << 6`,
  then Lava's single wrap of values outside 24 bits (`> 2**23` loses `2**24`, `<= -2**23` gains it);
- voltage: `v = trunc(v * (4096 - dv) / 4096) + u + (bias_mant << bias_exp)`, clipped to `±(2**23 - 1)`;
- spike when `v > vth << 6` (a tie does not fire), then `v = 0` for the neurons that fired (`u` is kept);
- int32 overflow wraps wherever Lava's arrays would (reachable only with extreme weights, kept for exactness).

Registers live in float64: every value here is an integer below 2**53, where float64 adds, compares, scales
by powers of two and truncates exactly, and it vectorises where int64 multiply/divide does not.
`u * (f / 4096)` is exact because `u * f` < 2**36 and dividing by 4096 only moves the exponent.
"""

from __future__ import annotations

import torch

from ..loihi_params import ACT_SHIFT, DECAY_UNITY, UV_LIMIT, LifParams


def wrap(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap to `bits` (int32 overflow in numpy; `lava.proc.conv.utils.signed_clamp`)."""
    half = 1 << (bits - 1)
    return torch.remainder(x + half, 2 * half) - half


def decay(x: torch.Tensor, factor: int) -> torch.Tensor:
    """`sign(x*f) * (|x*f| >> 12)`: the product divided by 4096, rounded toward zero."""
    if factor == DECAY_UNITY:
        return x
    out = torch.trunc(x * (factor / DECAY_UNITY))
    return out if abs(factor) <= DECAY_UNITY else wrap(out, 32)  # |out| <= |x| needs no int32 wrap


class LifState:
    """The `u`, `v` registers of one layer for a batch of samples, advanced one Lava time step per `step`.

    `int32_safe`: the caller has checked that its inputs cannot overflow Lava's int32 arithmetic (|a_in| << 6
    stays within 2**24), so the int32 wraps, which would change nothing, are skipped.
    """

    def __init__(self, params: LifParams, batch: int, num_neurons: int, device: torch.device,
                 int32_safe: bool = False, bias: torch.Tensor | None = None) -> None:
        """`bias`: per-neuron effective biases (float64, (num_neurons,)) in place of the params' scalar."""
        self.params = params
        self.current_factor = params.current_factor
        self.voltage_factor = params.voltage_factor
        self.bias = params.effective_bias if bias is None else bias
        largest = abs(params.effective_bias) if bias is None else \
            float(bias.abs().max()) if bias.numel() else 0.0
        self.int32_safe = int32_safe and largest < UV_LIMIT
        self.u = torch.zeros(batch, num_neurons, dtype=torch.float64, device=device)
        self.v = torch.zeros_like(self.u)

    def reset(self) -> None:
        """Lava LIFReset's reset step: both registers to zero."""
        self.u.zero_()
        self.v.zero_()

    def _int32(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.int32_safe else wrap(x, 32)

    def step(self, a_in: torch.Tensor) -> torch.Tensor:
        """Consume one step of synaptic input (integers, (batch, neurons)); return the spikes (bool)."""
        activation = self._int32(a_in.double() * (1 << ACT_SHIFT))
        current = self._int32(decay(self.u, self.current_factor) + activation)
        u = torch.where(current > UV_LIMIT, current - 2 * UV_LIMIT, current)
        self.u = torch.where(u <= -UV_LIMIT, current + 2 * UV_LIMIT, u)
        voltage = self._int32(decay(self.v, self.voltage_factor) + self.u + self.bias)
        voltage = voltage.clamp_(-UV_LIMIT + 1, UV_LIMIT - 1)
        spikes = voltage > self.params.effective_vth
        self.v = voltage.masked_fill_(spikes, 0)
        return spikes
