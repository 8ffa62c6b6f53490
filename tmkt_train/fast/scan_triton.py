"""Triton kernels for the fused CUBA scan on CUDA: one program walks time for a block of neurons.

Each neuron-step reads its synaptic input once and writes its spike and its surrogate derivative once (the
current and voltage stay in registers; the voltage is written only where a caller asks for it); backward
reads the spike gradient and the surrogate once and writes the input gradient once. Same arithmetic as
`scan_torch` (SLAYER's CPU path) with int32 states: the decay product is split so it cannot overflow, so
results equal the int64 path while states stay below 2**31 (as SLAYER's own CUDA kernel assumes). All
buffers of one call share one `(N, T, M)` stride set (the caller lays them out alike).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .constants import CubaConstants

BLOCK = 1024


@triton.jit
def _decay_toward_zero(state, keep):
    magnitude = tl.abs(state)
    kept = (magnitude >> 12) * keep + (((magnitude & 4095) * keep) >> 12)
    return tl.where(state < 0, -kept, kept)


@triton.jit
def _forward_kernel(
    z_ptr, spike_ptr, sur_ptr, volt_ptr, m_size, steps, s_n, s_t, s_m,
    s_scale, current_keep, voltage_keep, reset_threshold, spike_threshold, tau, amplitude,
    DELAY: tl.constexpr, VOLTAGE: tl.constexpr, BLOCK_M: tl.constexpr,
):
    n = tl.program_id(1).to(tl.int64)
    offs = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    mask = offs < m_size
    base = n * s_n + offs * s_m
    current = tl.zeros([BLOCK_M], dtype=tl.int32)
    state = tl.zeros([BLOCK_M], dtype=tl.int32)
    if DELAY:
        tl.store(spike_ptr + base, tl.zeros([BLOCK_M], dtype=tl.float32), mask=mask)
    for t in range(steps):
        here = base + t * s_t
        z = tl.load(z_ptr + here, mask=mask, other=0.0).to(tl.float32)
        current = _decay_toward_zero(current, current_keep) + (z * s_scale).to(tl.int32)
        state = _decay_toward_zero(state, voltage_keep) + current
        level = state.to(tl.float32)
        volts = tl.div_rn(level, s_scale)
        spike = (volts >= spike_threshold).to(tl.float32)
        tl.store(sur_ptr + here, amplitude * tl.exp(-tl.abs(volts - spike_threshold) / tau), mask=mask)
        if VOLTAGE:
            tl.store(volt_ptr + here, volts, mask=mask)
        if DELAY:
            tl.store(spike_ptr + here + s_t, spike, mask=mask & (t + 1 < steps))
        else:
            tl.store(spike_ptr + here, spike, mask=mask)
        state = tl.where(level >= reset_threshold, 0, state)


@triton.jit
def _backward_kernel(
    g_ptr, gv_ptr, sur_ptr, gz_ptr, m_size, steps, s_n, s_t, s_m, current_factor, voltage_factor,
    DELAY: tl.constexpr, VOLTAGE: tl.constexpr, BLOCK_M: tl.constexpr,
):
    n = tl.program_id(1).to(tl.int64)
    offs = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    mask = offs < m_size
    base = n * s_n + offs * s_m
    voltage_grad = tl.zeros([BLOCK_M], dtype=tl.float32)
    current_grad = tl.zeros([BLOCK_M], dtype=tl.float32)
    for i in range(steps):
        here = base + (steps - 1 - i) * s_t
        if DELAY:
            spike_grad = tl.load(g_ptr + here + s_t, mask=mask & (i > 0), other=0.0)
        else:
            spike_grad = tl.load(g_ptr + here, mask=mask, other=0.0)
        surrogate = tl.load(sur_ptr + here, mask=mask, other=0.0).to(tl.float32)
        incoming = surrogate * spike_grad.to(tl.float32)
        if VOLTAGE:
            incoming += tl.load(gv_ptr + here, mask=mask, other=0.0).to(tl.float32)
        voltage_grad = voltage_factor * voltage_grad + incoming
        current_grad = current_factor * current_grad + voltage_grad
        tl.store(gz_ptr + here, current_grad, mask=mask)


def _strides(*views: torch.Tensor | None) -> tuple[int, int, int]:
    strides = {view.stride() for view in views if view is not None}
    if len(strides) != 1:
        raise ValueError(f"the scan's buffers must share one layout, got strides {sorted(strides)}")
    return strides.pop()


def scan_forward(
    z: torch.Tensor, spikes: torch.Tensor, surrogate: torch.Tensor, voltage: torch.Tensor | None,
    c: CubaConstants, delay: bool,
) -> None:
    """Triton twin of `scan_torch.scan_forward`."""
    strides = _strides(z, spikes, surrogate, voltage)
    _forward_kernel[(triton.cdiv(z.shape[2], BLOCK), z.shape[0])](
        z, spikes, surrogate, surrogate if voltage is None else voltage, z.shape[2], z.shape[1], *strides,
        float(c.s_scale), c.current_keep, c.voltage_keep, c.reset_threshold, c.spike_threshold, c.tau_rho,
        c.surrogate_amplitude, DELAY=delay, VOLTAGE=voltage is not None, BLOCK_M=BLOCK, num_warps=4,
    )


def scan_backward(
    grad_spikes: torch.Tensor, grad_voltage: torch.Tensor | None, surrogate: torch.Tensor,
    grad_z: torch.Tensor, c: CubaConstants, delay: bool,
) -> None:
    """Triton twin of `scan_torch.scan_backward`."""
    strides = _strides(grad_spikes, grad_voltage, surrogate, grad_z)
    _backward_kernel[(triton.cdiv(surrogate.shape[2], BLOCK), surrogate.shape[0])](
        grad_spikes, surrogate if grad_voltage is None else grad_voltage, surrogate, grad_z,
        surrogate.shape[2], surrogate.shape[1], *strides, c.current_factor, c.voltage_factor,
        DELAY=delay, VOLTAGE=grad_voltage is not None, BLOCK_M=BLOCK, num_warps=4,
    )
