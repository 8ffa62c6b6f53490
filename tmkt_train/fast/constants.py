"""The integer constants of one SLAYER CUBA neuron, read once so every kernel uses the same numbers.

We read them from lava-dl's own `cuba.Neuron` (its quantized decays, threshold, `threshold_eps`, `s_scale` and
surrogate-gradient shape) instead of re-deriving them, and refuse the options our fused kernels do not model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..lavadl import slayer

cuba = slayer.neuron.cuba  # lava-dl's CUBA neuron module

P_SCALE = 1 << 12  # SLAYER's decay scale: decays are integers out of 4096


@dataclass(frozen=True)
class CubaConstants:
    """What SLAYER's CPU dynamics compute with, in the units they use.

    `current_keep`/`voltage_keep` are `4096 - quantized decay` (the integer multiplier of the state);
    `reset_threshold` is `(threshold + eps) * s_scale` (compared with the integer voltage in float32, as
    SLAYER's CPU path does) and `spike_threshold` is `threshold + eps` (compared with `voltage / s_scale`).
    """

    current_keep: int
    voltage_keep: int
    s_scale: int
    reset_threshold: float
    spike_threshold: float
    tau_rho: float
    scale_rho: float

    @property
    def current_factor(self) -> float:
        """The float decay factor SLAYER's backward uses for the current (`1 - decay / 4096`)."""
        return float(np.float32(self.current_keep) / np.float32(P_SCALE))

    @property
    def voltage_factor(self) -> float:
        """The float decay factor SLAYER's backward uses for the voltage."""
        return float(np.float32(self.voltage_keep) / np.float32(P_SCALE))

    @property
    def surrogate_amplitude(self) -> float:
        """Peak of SLAYER's exponential surrogate, `scale_rho / 2 / tau_rho` (in float32 like SLAYER)."""
        return float(np.float32(self.scale_rho) / np.float32(2.0) / np.float32(self.tau_rho))

    @classmethod
    def from_neuron(cls, neuron: cuba.Neuron, name: str = "neuron") -> CubaConstants:
        """Read a SLAYER CUBA neuron; `name` goes into the error when it uses an option we do not model."""
        unsupported = {
            "per-channel decays (shared_param=False)": not neuron.shared_param,
            "learnable decays (requires_grad=True)": neuron.requires_grad,
            "graded_spike=True": neuron.graded_spike,
            "norm": neuron.norm is not None,
            "dropout": neuron.drop is not None,
            "persistent_state=True": neuron.persistent_state,
        }
        used = [option for option, on in unsupported.items() if on]
        if used:
            raise ValueError(f"{name}: the fast CUBA kernels do not support {', '.join(used)}")
        with torch.no_grad():
            current_decay = int(slayer.utils.quantize(neuron.current_decay).item())
            voltage_decay = int(slayer.utils.quantize(neuron.voltage_decay).item())
        threshold = neuron.threshold + neuron.threshold_eps
        return cls(
            current_keep=P_SCALE - current_decay,
            voltage_keep=P_SCALE - voltage_decay,
            s_scale=neuron.s_scale,
            reset_threshold=threshold * neuron.s_scale,
            spike_threshold=threshold,
            tau_rho=neuron.tau_rho * cuba.TAU_RHO_MULT,
            scale_rho=neuron.scale_rho * cuba.SCALE_RHO_MULT,
        )
