"""Triton kernels for the fused CUBA scan on CUDA: one program walks time for a block of neurons.

Each neuron-step reads its synaptic input once and writes its spike and its surrogate derivative once (the
current and voltage stay in registers; the voltage is written only where a caller asks for it); backward
reads the spike gradient and the surrogate once and writes the input gradient once. Same arithmetic as
`scan_torch` (SLAYER's CPU path) with int32 states: the decay product is split so it cannot overflow, so
results equal the int64 path while states stay below 2**31 (as SLAYER's own CUDA kernel assumes). All
buffers of one call share one `(N, T, M)` stride set (the caller lays them out alike).

Two fusions save whole passes over memory (`folded.py` uses them on CUDA):
- a sum pool (`SumPoolSynapse`) is read straight from its channels-last input: forward sums each window and
  multiplies by the pool weight (the same float32 sum and product as the torch path, so the same `z`),
  backward spreads the input gradient over the window; no `z`, no window copies, nothing saved but the
  surrogate;
- the layer's spike count: each neuron's total over the steps (int32, written once after the loop), so the
  trainer's per-layer totals read 1/T of the spikes' size instead of every spike again.
"""

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
def _window_base(n, offs, x_sn, channels, width_out, POOL_H: tl.constexpr, POOL_W: tl.constexpr):
    """Offset of the top-left tap of output neuron `offs` = (h', w', c) in a channels-last pool input."""
    c = offs % channels
    rest = offs // channels
    row, column = rest // width_out, rest % width_out
    return n * x_sn + (row * POOL_H * width_out * POOL_W + column * POOL_W) * channels + c


@triton.jit
def _forward_kernel(
    z_ptr, spike_ptr, sur_ptr, volt_ptr, count_ptr, pool_w_ptr, m_size, steps, s_n, s_t, s_m,
    x_sn, x_st, channels, width_out,
    s_scale, current_keep, voltage_keep, reset_threshold, spike_threshold, tau, amplitude,
    DELAY: tl.constexpr, VOLTAGE: tl.constexpr, COUNT: tl.constexpr, POOL_H: tl.constexpr,
    POOL_W: tl.constexpr, BLOCK_M: tl.constexpr,
):
    n = tl.program_id(1).to(tl.int64)
    offs = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    mask = offs < m_size
    base = n * s_n + offs * s_m
    current = tl.zeros([BLOCK_M], dtype=tl.int32)
    state = tl.zeros([BLOCK_M], dtype=tl.int32)
    emitted = tl.zeros([BLOCK_M], dtype=tl.int32)
    if POOL_H > 0:
        window = _window_base(n, offs, x_sn, channels, width_out, POOL_H, POOL_W)
        pool_weight = tl.load(pool_w_ptr).to(tl.float32)
    if DELAY:
        tl.store(spike_ptr + base, tl.zeros([BLOCK_M], dtype=tl.float32), mask=mask)
    for t in range(steps):
        here = base + t * s_t
        if POOL_H > 0:
            total = tl.zeros([BLOCK_M], dtype=tl.float32)
            for dh in tl.static_range(POOL_H):
                for dw in tl.static_range(POOL_W):
                    tap = window + t * x_st + (dh * width_out * POOL_W + dw) * channels
                    total += tl.load(z_ptr + tap, mask=mask, other=0.0).to(tl.float32)
            z = total * pool_weight
        else:
            z = tl.load(z_ptr + here, mask=mask, other=0.0).to(tl.float32)
        current = _decay_toward_zero(current, current_keep) + (z * s_scale).to(tl.int32)
        state = _decay_toward_zero(state, voltage_keep) + current
        level = state.to(tl.float32)
        volts = tl.div_rn(level, s_scale)
        fired = mask & (volts >= spike_threshold)
        spike = fired.to(tl.float32)
        tl.store(sur_ptr + here, amplitude * tl.exp(-tl.abs(volts - spike_threshold) / tau), mask=mask)
        if VOLTAGE:
            tl.store(volt_ptr + here, volts, mask=mask)
        if DELAY:
            tl.store(spike_ptr + here + s_t, spike, mask=mask & (t + 1 < steps))
            if COUNT:
                emitted += (fired & (t + 1 < steps)).to(tl.int32)
        else:
            tl.store(spike_ptr + here, spike, mask=mask)
            if COUNT:
                emitted += fired.to(tl.int32)
        state = tl.where(level >= reset_threshold, 0, state)
    if COUNT:  # each neuron's spike total (int32): the caller sums these, 1/T of the spikes' size
        tl.store(count_ptr + n * m_size + offs, emitted, mask=mask)


@triton.jit
def _backward_kernel(
    g_ptr, gv_ptr, sur_ptr, gz_ptr, pool_w_ptr, m_size, steps, s_n, s_t, s_m, x_sn, x_st, channels,
    width_out, current_factor, voltage_factor,
    DELAY: tl.constexpr, VOLTAGE: tl.constexpr, POOL_H: tl.constexpr, POOL_W: tl.constexpr,
    BLOCK_M: tl.constexpr,
):
    n = tl.program_id(1).to(tl.int64)
    offs = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    mask = offs < m_size
    base = n * s_n + offs * s_m
    voltage_grad = tl.zeros([BLOCK_M], dtype=tl.float32)
    current_grad = tl.zeros([BLOCK_M], dtype=tl.float32)
    if POOL_H > 0:
        window = _window_base(n, offs, x_sn, channels, width_out, POOL_H, POOL_W)
        # as the torch path: the gradient rounded to the gradient dtype, times the weight in that dtype
        pool_weight = tl.load(pool_w_ptr).to(gz_ptr.dtype.element_ty).to(tl.float32)
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
        if POOL_H > 0:
            spread = current_grad.to(gz_ptr.dtype.element_ty).to(tl.float32) * pool_weight
            for dh in tl.static_range(POOL_H):
                for dw in tl.static_range(POOL_W):
                    tap = window + (steps - 1 - i) * x_st + (dh * width_out * POOL_W + dw) * channels
                    tl.store(gz_ptr + tap, spread, mask=mask)
        else:
            tl.store(gz_ptr + here, current_grad, mask=mask)


def _strides(*views: torch.Tensor | None) -> tuple[int, int, int]:
    strides = {view.stride() for view in views if view is not None}
    if len(strides) != 1:
        raise ValueError(f"the scan's buffers must share one layout, got strides {sorted(strides)}")
    return strides.pop()


def count_slots(view: torch.Tensor) -> int:
    """Length of the int32 `counts` buffer `scan_forward` fills for an `(N, T, M)` view: one per neuron."""
    return view.shape[0] * view.shape[2]


def _pool_args(pool: tuple[torch.Tensor, tuple[int, int], torch.Tensor] | None,
               out: torch.Tensor) -> tuple[list, dict]:
    """Kernel arguments of a fused sum pool `(input, kernel, weight)`: the channels-last input's batch and
    step strides, its channels and the output width (`out` is an `(N, T, H'*W'*C)` view)."""
    if pool is None:
        return [0, 0, 1, 1], {"POOL_H": 0, "POOL_W": 0}
    x, (kh, kw), _ = pool
    steps = out.shape[1]
    width_out = x.shape[3] // kw
    return [x.stride(0) * steps, x.stride(0), x.shape[1], width_out], {"POOL_H": kh, "POOL_W": kw}


def scan_forward(
    z: torch.Tensor, spikes: torch.Tensor, surrogate: torch.Tensor, voltage: torch.Tensor | None,
    c: CubaConstants, delay: bool, counts: torch.Tensor | None = None,
    pool: tuple[torch.Tensor, tuple[int, int], torch.Tensor] | None = None,
) -> None:
    """Triton twin of `scan_torch.scan_forward`; `counts` (int32, `count_slots` long) gets each neuron's
    spike total; with `pool` = (channels-last input, kernel, 0-d weight) `z` is ignored and each
    neuron's input is its window sum times the weight."""
    strides = _strides(spikes, surrogate, voltage, None if pool else z)
    pool_args, pool_flags = _pool_args(pool, spikes)
    source = z if pool is None else pool[0]
    _forward_kernel[(triton.cdiv(spikes.shape[2], BLOCK), spikes.shape[0])](
        source, spikes, surrogate, surrogate if voltage is None else voltage,
        surrogate if counts is None else counts, surrogate if pool is None else pool[2],
        spikes.shape[2], spikes.shape[1], *strides, *pool_args,
        float(c.s_scale), c.current_keep, c.voltage_keep, c.reset_threshold, c.spike_threshold, c.tau_rho,
        c.surrogate_amplitude, DELAY=delay, VOLTAGE=voltage is not None, COUNT=counts is not None,
        BLOCK_M=BLOCK, num_warps=4, **pool_flags,
    )


def scan_backward(
    grad_spikes: torch.Tensor, grad_voltage: torch.Tensor | None, surrogate: torch.Tensor,
    grad_z: torch.Tensor, c: CubaConstants, delay: bool,
    pool: tuple[torch.Tensor, tuple[int, int], torch.Tensor] | None = None,
) -> None:
    """Triton twin of `scan_torch.scan_backward`; with `pool` = (channels-last input gradient to write,
    kernel, 0-d weight) `grad_z` is ignored and the pool's input gradient is written instead."""
    strides = _strides(grad_spikes, grad_voltage, surrogate, None if pool else grad_z)
    pool_args, pool_flags = _pool_args(pool, surrogate)
    target = grad_z if pool is None else pool[0]
    _backward_kernel[(triton.cdiv(surrogate.shape[2], BLOCK), surrogate.shape[0])](
        grad_spikes, surrogate if grad_voltage is None else grad_voltage, surrogate, target,
        surrogate if pool is None else pool[2], surrogate.shape[2], surrogate.shape[1], *strides, *pool_args,
        c.current_factor, c.voltage_factor, DELAY=delay, VOLTAGE=grad_voltage is not None,
        BLOCK_M=BLOCK, num_warps=4, **pool_flags,
    )
