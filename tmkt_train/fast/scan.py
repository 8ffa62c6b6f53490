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

    def view(self, x: torch.Tensor) -> torch.Tensor:
        """An `(N, T, M)` view of a tensor laid out by `contiguous`."""
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        return x.view(x.shape[0] // self.time_steps, self.time_steps, -1)


def _backend(x: torch.Tensor) -> ModuleType:
    return scan_triton if x.is_cuda and scan_triton is not None else scan_torch


def cuba_forward(
    z: torch.Tensor, layout: Layout, c: CubaConstants, delay: bool,
    spike_dtype: torch.dtype, surrogate_dtype: torch.dtype, voltage: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Spikes (delayed one step when `delay`), surrogate derivatives and, if asked, the float32 voltage
    (SLAYER's `dynamics` output) of SLAYER's CUBA neuron driven by `z`; all laid out like `z`."""
    z = layout.contiguous(z)
    spikes = torch.empty_like(z, dtype=spike_dtype)
    surrogate = torch.empty_like(z, dtype=surrogate_dtype)
    volts = torch.empty_like(z, dtype=torch.float32) if voltage else None
    _backend(z).scan_forward(
        layout.view(z), layout.view(spikes), layout.view(surrogate), _view(layout, volts), c, delay
    )
    return spikes, surrogate, volts


def cuba_backward(
    grad_spikes: torch.Tensor, surrogate: torch.Tensor, layout: Layout, c: CubaConstants, delay: bool,
    grad_dtype: torch.dtype, grad_voltage: torch.Tensor | None = None,
) -> torch.Tensor:
    """Gradient with respect to `z` of `cuba_forward`, given the gradients of its spikes (and voltage)."""
    grad_spikes = layout.contiguous(grad_spikes)
    grad_voltage = None if grad_voltage is None else layout.contiguous(grad_voltage)
    grad_z = torch.empty_like(surrogate, dtype=grad_dtype)
    _backend(surrogate).scan_backward(
        layout.view(grad_spikes), _view(layout, grad_voltage), layout.view(surrogate), layout.view(grad_z),
        c, delay,
    )
    return grad_z


def _view(layout: Layout, x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else layout.view(x)

