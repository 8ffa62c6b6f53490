"""The LIF update of `neuron.LifState` fused into one Triton kernel over a layer's whole window, for GPUs.

Step by step in torch a window costs about fifteen kernels and passes over memory per time step; here one
program walks time for a block of neurons of one sample: each input current is read once, `u`/`v` stay in
registers (int64) and each spike is written once. Same arithmetic as `lif_kernel` (the CPU kernel) and
`neuron.py` (see there for Lava's semantics), for inputs the caller has checked to be int32-safe (see
`LifState`): then none of Lava's int32 wraps can change a value and none is applied (decay factors are at
most 4096, so a decayed register never grows). The tests run it in Triton's interpreter against the CPU
kernel; on a GPU the CPU↔CUDA agreement test and `benchmarks/gpu_round2.py` check it.
"""

import torch
import triton
import triton.language as tl

from ..loihi_params import ACT_SHIFT, DECAY_SHIFT, UV_LIMIT, LifParams

BLOCK = 1024


@triton.jit
def _decay(x, factor, SHIFT: tl.constexpr):
    product = x * factor
    magnitude = tl.abs(product) >> SHIFT
    return tl.where(product < 0, -magnitude, magnitude)


@triton.jit
def _lif_kernel(a_ptr, spike_ptr, changed_ptr, neurons, s_n, s_t, s_m, o_n, o_t,
                current_factor, voltage_factor, bias, vth, STEPS: tl.constexpr,
                ACT: tl.constexpr, SHIFT: tl.constexpr, LIMIT: tl.constexpr, BLOCK_M: tl.constexpr):
    sample = tl.program_id(0).to(tl.int64)
    offs = (tl.program_id(1) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    mask = offs < neurons
    a_base = sample * s_n + offs * s_m
    o_base = sample * o_n + offs
    u = tl.zeros([BLOCK_M], dtype=tl.int64)
    v = tl.zeros([BLOCK_M], dtype=tl.int64)
    for t in range(STEPS):
        a_in = tl.load(a_ptr + a_base + t * s_t, mask=mask, other=0.0).to(tl.int64)
        current = _decay(u, current_factor, SHIFT) + a_in * (1 << ACT)
        current = tl.where(current > LIMIT, current - 2 * LIMIT,
                           tl.where(current <= -LIMIT, current + 2 * LIMIT, current))
        voltage = _decay(v, voltage_factor, SHIFT) + current + bias
        voltage = tl.where(voltage < 1 - LIMIT, 1 - LIMIT, tl.where(voltage > LIMIT - 1, LIMIT - 1, voltage))
        fired = voltage > vth
        tl.store(spike_ptr + o_base + t * o_t, fired.to(spike_ptr.dtype.element_ty), mask=mask)
        after = tl.where(fired, 0, voltage)
        busy = (fired | (current != u) | (after != v)) & mask
        block_busy = tl.sum(tl.reshape(busy.to(tl.int64), [1, BLOCK_M]), axis=1)  # 1-d: the interpreter's
        tl.store(changed_ptr + (sample * STEPS + t) * tl.num_programs(1) + tl.program_id(1)  # reductions
                 + tl.arange(0, 1), block_busy)
        u = current
        v = after


def lif_window(params: LifParams, a_in: torch.Tensor,
               spike_dtype: torch.dtype = torch.uint8) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes (n, steps, neurons) 0/1 of neurons from zero state driven by integer inputs `a_in` (same shape,
    float, any strides), int32-safe (see module), and the neurons whose state changed (a spike, or `u` or `v`
    moved) per sample and step (n, steps) int64: each program stores its block's count, summed here (no
    atomics: exact and deterministic). `spike_dtype`: any integer type (Triton's interpreter, which the tests
    use, has no 8-bit one)."""
    n, steps, neurons = a_in.shape
    spikes = torch.empty(a_in.shape, dtype=spike_dtype, device=a_in.device)
    grid = (n, triton.cdiv(neurons, BLOCK))  # samples on the axis without a 65,535 limit
    changed = torch.zeros((n, steps, grid[1]), dtype=torch.int64, device=a_in.device)
    if spikes.numel():
        _lif_kernel[grid](a_in, spikes, changed, neurons, *a_in.stride(), spikes.stride(0), spikes.stride(1),
                          params.current_factor, params.voltage_factor, params.effective_bias,
                          params.effective_vth, STEPS=steps, ACT=ACT_SHIFT, SHIFT=DECAY_SHIFT, LIMIT=UV_LIMIT,
                          BLOCK_M=BLOCK)
    return spikes, changed.sum(dim=2)
