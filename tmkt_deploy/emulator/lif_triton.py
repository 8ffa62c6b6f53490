"""The LIF update of `neuron.LifState` fused into one Triton kernel over a layer's whole window, for GPUs.

Step by step in torch a window costs about fifteen kernels and passes over memory per time step; here one
program walks time for a block of neurons of one sample: each input current is read once, `u`/`v` stay in
registers (int64) and each spike is written once. The counts the deploy check needs are summed on the way
(spikes and changed states per sample and step, and optionally per neuron over the batch), so no reduction
reads the spikes again. Same arithmetic as `lif_kernel` (the CPU kernel) and
`neuron.py` (see there for Lava's semantics), for inputs the caller has checked to be int32-safe (see
`LifState`): then none of Lava's int32 wraps can change a value and none is applied (decay factors are at
most 4096, so a decayed register never grows). The tests run it in Triton's interpreter against the CPU
kernel; on a GPU the CPU↔CUDA agreement test and `benchmarks/gpu_round2.py` check it.
"""

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from ..loihi_params import ACT_SHIFT, DECAY_SHIFT, UV_LIMIT, LifParams

BLOCK = 1024
GROUP = 8  # samples per program, one after the other: per-neuron sums stay in registers across them
MIN_PROGRAMS = 2048  # fewer programs than this with GROUP samples each (small layers): one sample each


@triton.jit
def _decay(x, factor, SHIFT: tl.constexpr):
    product = x * factor
    magnitude = tl.abs(product) >> SHIFT
    return tl.where(product < 0, -magnitude, magnitude)


@triton.jit
def _lif_kernel(a_ptr, spike_ptr, changed_ptr, fired_ptr, sums_ptr, samples, neurons, s_n, s_t, s_m, o_n, o_t,
                current_factor, voltage_factor, bias, vth, STEPS: tl.constexpr, FRAMES: tl.constexpr,
                GROUP: tl.constexpr, ACT: tl.constexpr, SHIFT: tl.constexpr, LIMIT: tl.constexpr,
                BLOCK_M: tl.constexpr):
    offs = (tl.program_id(1) * BLOCK_M + tl.arange(0, BLOCK_M)).to(tl.int64)
    window = tl.zeros([BLOCK_M], dtype=tl.int64)  # the group's spikes per neuron, all steps / frame steps
    frame = tl.zeros([BLOCK_M], dtype=tl.int64)
    for i in range(GROUP):
        sample = tl.program_id(0).to(tl.int64) * GROUP + i
        mask = (offs < neurons) & (sample < samples)
        a_base = sample * s_n + offs * s_m
        o_base = sample * o_n + offs
        u = tl.zeros([BLOCK_M], dtype=tl.int64)
        v = tl.zeros([BLOCK_M], dtype=tl.int64)
        for t in range(STEPS):
            a_in = tl.load(a_ptr + a_base + t * s_t, mask=mask, other=0).to(tl.int64)
            current = _decay(u, current_factor, SHIFT) + a_in * (1 << ACT)
            current = tl.where(current > LIMIT, current - 2 * LIMIT,
                               tl.where(current <= -LIMIT, current + 2 * LIMIT, current))
            voltage = _decay(v, voltage_factor, SHIFT) + current + bias
            voltage = tl.where(voltage < 1 - LIMIT, 1 - LIMIT,
                               tl.where(voltage > LIMIT - 1, LIMIT - 1, voltage))
            fired = voltage > vth
            tl.store(spike_ptr + o_base + t * o_t, fired.to(spike_ptr.dtype.element_ty), mask=mask)
            after = tl.where(fired, 0, voltage)
            busy = ((fired | (current != u) | (after != v)) & mask).to(tl.int64)
            spiked = (fired & mask).to(tl.int64)
            # per sample, step and block (rows past the batch are padding); sums as 1-d reshapes: the
            # interpreter's reductions
            slot = (sample * STEPS + t) * tl.num_programs(1) + tl.program_id(1) + tl.arange(0, 1)
            tl.store(changed_ptr + slot, tl.sum(tl.reshape(busy, [1, BLOCK_M]), axis=1))
            tl.store(fired_ptr + slot, tl.sum(tl.reshape(spiked, [1, BLOCK_M]), axis=1))
            if FRAMES >= 0:
                window += spiked
                if t < FRAMES:
                    frame += spiked
            u = current
            v = after
    if FRAMES >= 0:  # per neuron, this group of samples: summed over the groups by the caller
        row = tl.program_id(0).to(tl.int64) * 2 * neurons + offs
        tl.store(sums_ptr + row, window, mask=offs < neurons)
        tl.store(sums_ptr + row + neurons, frame, mask=offs < neurons)


@dataclass
class FusedWindow:
    """A layer's window from the fused kernel: spikes (n, steps, neurons) 0/1, spikes per sample (n,), neurons
    whose state changed per sample and step (n, steps), and, when asked for, spikes per neuron summed over
    the batch over all steps and over the first `frames` steps ((neurons,) each, int64)."""

    spikes: torch.Tensor
    counts: torch.Tensor
    changed: torch.Tensor
    sums: tuple[torch.Tensor, torch.Tensor] | None = None


def lif_window(params: LifParams, a_in: torch.Tensor, spike_dtype: torch.dtype = torch.uint8,
               frames: int | None = None) -> FusedWindow:
    """The neurons from zero state driven by integer inputs `a_in` ((n, steps, neurons), float or int32, any
    strides), int32-safe (see module). Each program runs `GROUP` samples (one where that would leave fewer
    than `MIN_PROGRAMS` programs) one after the other for one block of neurons and stores its block's spike
    and changed-state counts per sample and step, and with `frames` its per-neuron spike sums over its
    samples; all are summed here (no atomics: exact and deterministic). `spike_dtype`: any integer type
    (Triton's interpreter, which the tests use, has no 8-bit one)."""
    n, steps, neurons = a_in.shape
    device = a_in.device
    spikes = torch.empty(a_in.shape, dtype=spike_dtype, device=device)
    group = GROUP if triton.cdiv(n, GROUP) * triton.cdiv(neurons, BLOCK) >= MIN_PROGRAMS else 1
    grid = (triton.cdiv(n, group), triton.cdiv(neurons, BLOCK))  # groups: the axis without a 65,535 limit
    blocks = torch.empty((2, grid[0] * group, steps, grid[1]), dtype=torch.int64, device=device)
    sums = torch.empty((grid[0], 2, neurons if frames is not None else 1), dtype=torch.int64, device=device)
    if not spikes.numel():
        blocks.zero_()
        sums.zero_()
    else:
        _lif_kernel[grid](a_in, spikes, blocks[0], blocks[1], sums, n, neurons, *a_in.stride(),
                          spikes.stride(0), spikes.stride(1), params.current_factor, params.voltage_factor,
                          params.effective_bias, params.effective_vth, STEPS=steps,
                          FRAMES=-1 if frames is None else frames, GROUP=group, ACT=ACT_SHIFT,
                          SHIFT=DECAY_SHIFT, LIMIT=UV_LIMIT, BLOCK_M=BLOCK)
    per_step = blocks[:, :n].sum(dim=3)
    total = sums.sum(dim=0)
    return FusedWindow(spikes, per_step[1].sum(dim=1), per_step[0],
                       None if frames is None else (total[0], total[1]))
