"""CUBA neuron parameters and the single place where a layer's neuron dynamics run.

Every node of a `SpikingNet` fires through `fire(neuron, current)`, so a faster fused CUBA implementation can
replace SLAYER's two-pass leaky integrator here without touching the backbones. Decays are shared (one value
per layer) and not learned, so a checkpoint's numbers fully determine what the chip runs.
"""

from __future__ import annotations

import torch

# SLAYER's CUBA example values for threshold and decays (fractions; SLAYER turns them into Loihi's 12-bit
# decays and threshold mantissa). The surrogate gradient's width/scale only shape training: SLAYER's example
# scale_grad=3 shrinks gradients ~10x per layer (measured on VGGSNN/ResNet-18), so deep nets never learned;
# 15 keeps them roughly level through 19 layers (30 explodes).
DEFAULT_NEURON: dict[str, float] = {
    "threshold": 1.25,
    "current_decay": 0.25,
    "voltage_decay": 0.03,
    "tau_grad": 0.03,
    "scale_grad": 15.0,
}

# Fixed for every layer: deterministic decays (shared, not trained) and no state carried between batches.
_FIXED = {"shared_param": True, "requires_grad": False, "persistent_state": False}
GRADED_MAX = 255  # Loihi 2 graded spikes carry an 8-bit payload


def neuron_params(overrides: dict | None = None) -> dict:
    """SLAYER `cuba.Neuron` keyword arguments: the defaults, `overrides` on top, the fixed flags last."""
    unknown = set(overrides or {}) - set(DEFAULT_NEURON)
    if unknown:
        raise ValueError(f"unknown neuron parameter(s) {sorted(unknown)}; known: {sorted(DEFAULT_NEURON)}")
    return {**DEFAULT_NEURON, **(overrides or {}), **_FIXED}


def delay_steps(x: torch.Tensor, steps: int) -> torch.Tensor:
    """`x` shifted later in time by `steps`, zeros first: SLAYER's axon `delay`, written in torch because
    SLAYER's CUDA version is JIT-compiled (minutes) on first use."""
    return torch.nn.functional.pad(x, (steps, 0))[..., : x.shape[-1]] if steps else x


def fire(
    neuron: torch.nn.Module, current: torch.Tensor, delayed: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run CUBA dynamics on synaptic input `current` (N, ..., T); returns (spikes, membrane voltage).

    `delayed`: shift the spikes one step later, the layer latency Loihi and Lava have (SLAYER's
    `delay_shift=True`). Training runs without it (see `SpikingNet.forward`).
    """
    _, voltage = neuron.dynamics(current)
    spikes = neuron.spike(voltage)
    return (delay_steps(spikes, 1) if delayed else spikes), voltage


def encode_input(x: torch.Tensor, input_scale: float) -> torch.Tensor:
    """Frames → graded spikes `clamp(round(x * input_scale), 0, 255)`: the integers the chip's input sends.

    `input_scale` maps data units (DVS event counts per bin, RGB intensity in [0, 1]) to payload units,
    where a payload of 1 weighs the same as one binary spike; a larger scale keeps more intensity levels of
    RGB frames but saturates busy DVS pixels sooner.
    """
    return torch.clamp(torch.round(x * input_scale), 0, GRADED_MAX)
