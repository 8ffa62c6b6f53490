"""Pure-torch CUBA scans over time: the CPU path, and the reference the Triton kernels are tested against.

Written here (not lava-dl's `_li_dynamics_fwd`) because we fuse the current and voltage integrators, the
spike, the surrogate gradient and the one-step output delay into one pass over `(N, T, M)` views, and save
only the surrogate for backward. Arithmetic is SLAYER's CPU path exactly: int64 states, truncation toward
zero, float32 threshold compares.
"""

from __future__ import annotations

import torch

from .constants import CubaConstants


def decay_toward_zero(state: torch.Tensor, keep: int) -> torch.Tensor:
    """`trunc(state * keep / 4096)` on integer states, as SLAYER's `right_shift_to_zero(state * keep, 12)`."""
    product = state * keep
    return torch.where(product < 0, -((-product) >> 12), product >> 12)


def scan_forward(
    z: torch.Tensor, spikes: torch.Tensor, surrogate: torch.Tensor, voltage: torch.Tensor | None,
    c: CubaConstants, delay: bool,
) -> None:
    """Run the CUBA dynamics on `z` `(N, T, M)`; write spikes (shifted one step when `delay`), the surrogate
    and, when given, SLAYER's voltage output (`v / s_scale` before reset). All are `(N, T, M)` views."""
    n, steps, m = z.shape
    current = torch.zeros((n, m), dtype=torch.int64, device=z.device)
    state = torch.zeros_like(current)
    reset_threshold = torch.tensor(c.reset_threshold, dtype=torch.float32)
    spike_threshold = torch.tensor(c.spike_threshold, dtype=torch.float32, device=z.device)
    tau = torch.tensor(c.tau_rho, dtype=torch.float32, device=z.device)
    if delay:
        spikes[:, 0] = 0
    for t in range(steps):
        current = decay_toward_zero(current, c.current_keep) + (z[:, t].float() * c.s_scale).to(torch.int64)
        state = decay_toward_zero(state, c.voltage_keep) + current
        level = state.float()
        volts = level / c.s_scale
        surrogate[:, t] = c.surrogate_amplitude * torch.exp(-torch.abs(volts - spike_threshold) / tau)
        if voltage is not None:
            voltage[:, t] = volts
        if not delay:
            spikes[:, t] = volts >= spike_threshold
        elif t + 1 < steps:
            spikes[:, t + 1] = volts >= spike_threshold
        state = torch.where(level >= reset_threshold, 0, state)


def scan_backward(
    grad_spikes: torch.Tensor, grad_voltage: torch.Tensor | None, surrogate: torch.Tensor,
    grad_z: torch.Tensor, c: CubaConstants, delay: bool,
) -> None:
    """SLAYER's backward: surrogate × spike gradient (+ the voltage output's gradient), then the voltage and
    current leaky integrators in reverse. Like SLAYER, the reset is not differentiated. Views are `(N, T, M)`;
    `grad_z` is written."""
    n, steps, m = surrogate.shape
    voltage_grad = torch.zeros((n, m), dtype=torch.float32, device=surrogate.device)
    current_grad = torch.zeros_like(voltage_grad)
    voltage_factor = torch.tensor(c.voltage_factor, dtype=torch.float32)
    current_factor = torch.tensor(c.current_factor, dtype=torch.float32)
    for t in reversed(range(steps)):
        if delay:
            spike_grad = grad_spikes[:, t + 1].float() if t + 1 < steps else torch.zeros_like(voltage_grad)
        else:
            spike_grad = grad_spikes[:, t].float()
        incoming = surrogate[:, t].float() * spike_grad
        if grad_voltage is not None:
            incoming = incoming + grad_voltage[:, t].float()
        voltage_grad = voltage_factor * voltage_grad + incoming
        current_grad = current_factor * current_grad + voltage_grad
        grad_z[:, t] = current_grad
