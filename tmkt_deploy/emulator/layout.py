"""The emulator's neuron order: values kept per neuron in memory order (H, W, C for a conv layer's
channels-last result), and the views between that and PyTorch's logical (C, H, W) order. Both the window
runner (our nets) and the stream runner (netx imports) work in it."""

from __future__ import annotations

import torch


def neuron_major(currents: torch.Tensor) -> torch.Tensor:
    """Currents (M, *shape) → (M, neurons) in their memory order: H, W, C for a channels-last conv result
    (a view, no copy); the LIF update treats every neuron alike, so any fixed order will do."""
    if currents.ndim == 4:
        currents = currents.permute(0, 2, 3, 1)
    return currents.reshape(len(currents), -1)


def logical(values: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Values (n, P, neurons) in `neuron_major` order → (n, P, *shape), as a view."""
    if len(shape) != 3:
        return values.view(*values.shape[:2], *shape)
    channels, height, width = shape
    return values.view(*values.shape[:2], height, width, channels).permute(0, 1, 4, 2, 3)
