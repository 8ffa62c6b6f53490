"""Dispatch the fused CUBA scan to Triton (CUDA) or torch (CPU) over time-folded activations.

The fast networks (`folded.FoldedNet`, `spiking_net.FastSpikingNet`) keep time folded into the batch:
`(N*T, C, H, W)` channels-last or `(N*T, F)`. `Layout` turns either into the `(N, T, M)` strided view both
kernels scan over.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import torch

from . import scan_torch
from .constants import CubaConstants

try:
    from . import scan_triton
except ImportError:  # no Triton on CPU-only installs: the torch scan is used everywhere
    scan_triton = None


@dataclass(frozen=True)
class Layout:
    """Time folded into the batch axis: `(N*T, ...)` with `time_steps` = T."""

    time_steps: int

    def contiguous(self, x: torch.Tensor) -> torch.Tensor:
        """The dense memory layout `view` needs (channels-last for 4-D activations)."""
        if x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous()

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """An uninitialised tensor laid out as `contiguous` lays it out."""
        layout = torch.channels_last if len(shape) == 4 else torch.contiguous_format
        return torch.empty(shape, dtype=dtype, device=device, memory_format=layout)

    def view(self, x: torch.Tensor) -> torch.Tensor:
        """An `(N, T, M)` view of a tensor laid out by `contiguous`."""
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        return x.view(x.shape[0] // self.time_steps, self.time_steps, -1)


def _backend(x: torch.Tensor) -> ModuleType:
    return scan_triton if x.is_cuda and scan_triton is not None else scan_torch


def fuses_pool(x: torch.Tensor) -> bool:
    """Whether the scan for `x`'s device can read a sum pool's input itself (`cuba_forward(pool=...)`)."""
    return _backend(x) is scan_triton


Pool = tuple[tuple[int, int], torch.Tensor]  # a fused sum pool: (kernel, 0-d weight)


def cuba_forward(
    z: torch.Tensor, layout: Layout, c: CubaConstants, delay: bool,
    spike_dtype: torch.dtype, surrogate_dtype: torch.dtype, voltage: bool = False, count: bool = False,
    pool: Pool | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Spikes (delayed one step when `delay`), surrogate derivatives, if asked the float32 voltage (SLAYER's
    `dynamics` output) and, with `count`, a 1-D integer tensor whose sum is the number of spikes emitted, of
    SLAYER's CUBA neuron driven by `z`; all laid out like `z`. With `pool` (only where `fuses_pool(z)`),
    `z` is a sum pool's channels-last input and the neuron's input is its window sums times the weight."""
    z = layout.contiguous(z)
    shape = z.shape if pool is None else (*z.shape[:2], z.shape[2] // pool[0][0], z.shape[3] // pool[0][1])
    spikes = layout.empty(shape, spike_dtype, z.device)
    surrogate = layout.empty(shape, surrogate_dtype, z.device)
    volts = layout.empty(shape, torch.float32, z.device) if voltage else None
    backend = _backend(z)
    if backend is scan_torch:
        if pool is not None:
            raise ValueError("the torch scan does not fuse pools (check fuses_pool first)")
        scan_torch.scan_forward(layout.view(z), layout.view(spikes), layout.view(surrogate),
                                _view(layout, volts), c, delay)
        counts = spikes.sum(dtype=torch.int64).reshape(1) if count else None
        return spikes, surrogate, volts, counts
    view = layout.view(spikes)
    counts = torch.empty(scan_triton.count_slots(view), dtype=torch.int32, device=z.device) if count else None
    scan_triton.scan_forward(
        view if pool is not None else layout.view(z), view, layout.view(surrogate), _view(layout, volts), c,
        delay, counts, None if pool is None else (z, *pool),
    )
    return spikes, surrogate, volts, counts


def cuba_backward(
    grad_spikes: torch.Tensor, surrogate: torch.Tensor, layout: Layout, c: CubaConstants, delay: bool,
    grad_dtype: torch.dtype, grad_voltage: torch.Tensor | None = None, pool: Pool | None = None,
    pool_input_shape: torch.Size | None = None,
) -> torch.Tensor:
    """Gradient with respect to `z` of `cuba_forward`, given the gradients of its spikes (and voltage); with
    `pool`, the gradient with respect to the pool's input (of `pool_input_shape`)."""
    grad_spikes = layout.contiguous(grad_spikes)
    grad_voltage = None if grad_voltage is None else layout.contiguous(grad_voltage)
    shape = surrogate.shape if pool is None else pool_input_shape
    grad = layout.empty(shape, grad_dtype, surrogate.device)
    views = layout.view(grad_spikes), _view(layout, grad_voltage), layout.view(surrogate)
    if pool is None:
        _backend(surrogate).scan_backward(*views, layout.view(grad), c, delay)
    else:
        scan_triton.scan_backward(*views, views[2], c, delay, (grad, *pool))
    return grad


def _view(layout: Layout, x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else layout.view(x)
