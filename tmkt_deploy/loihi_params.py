"""The one IR → Lava parameter mapping: LIF integers and the Dense weights Lava really multiplies with.

The Lava graph builder, the emulator and the NIR/ONNX exports all read these, so a change to how an IR
neuron or weight becomes a Lava process is made here once. Constants are Lava's fixed-point LIF's
(`lava.proc.lif.models.PyLifModelBitAcc`); the weight handling is Lava's own `lava.utils.weightutils`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

from .ir import Cuba

DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
CURRENT_DECAY_OFFSET = 1  # Lava's `ds_offset`: du = 4095 means a full 4096/4096 current decay
ACT_SHIFT = 6  # Lava shifts a_in left by 6 ...
VTH_SHIFT = 6  # ... and the threshold too
UV_LIMIT = 1 << 23  # u and v are 24-bit registers
# Lava Dense's default `num_weight_bits` (the Lava graph passes it explicitly); it decides the truncated LSBs.
DENSE_WEIGHT_BITS = 8


@dataclass(frozen=True)
class LifParams:
    """The integers one Lava `LIF` process is built with (its `du`, `dv`, `vth`, `bias_mant`, `bias_exp`)."""

    du: int
    dv: int
    vth: int
    bias_mant: int = 0
    bias_exp: int = 0

    @property
    def effective_bias(self) -> int:
        """Lava's `scale_bias`: the mantissa shifted left (right for a negative exponent) by `bias_exp`."""
        return self.bias_mant << self.bias_exp if self.bias_exp >= 0 else self.bias_mant >> -self.bias_exp

    @property
    def effective_vth(self) -> int:
        return self.vth << VTH_SHIFT

    @property
    def current_factor(self) -> int:
        """What Lava multiplies u by each step, over DECAY_UNITY (it adds CURRENT_DECAY_OFFSET to `du`)."""
        return DECAY_UNITY - (self.du + CURRENT_DECAY_OFFSET)

    @property
    def voltage_factor(self) -> int:
        """What Lava multiplies v by each step, over DECAY_UNITY."""
        return DECAY_UNITY - self.dv


def lif_params(cuba: Cuba, layer: str) -> LifParams:
    """The Lava `LIF` arguments for an IR neuron, mapped as lava-dl's netx maps SLAYER's device parameters.

    IR decays are SLAYER's `iDecay`/`vDecay` (0..4096); Lava adds `ds_offset = 1` to `du`, so
    `du = iDecay - 1` (as netx does), `dv = vDecay`. Lava's LIF is binary and non-refractory: anything else is
    refused.
    """
    if not isinstance(cuba, Cuba):
        raise ValueError(f"IR layer {layer!r}: {type(cuba).__name__} neurons are not CUBA-LIF")
    if cuba.graded:
        raise ValueError(f"IR layer {layer!r}: graded output spikes, but Lava's LIF sends binary spikes")
    if cuba.ref_delay != 1:
        raise ValueError(f"IR layer {layer!r}: ref_delay={cuba.ref_delay}; Lava's LIF has no refractory")
    return LifParams(du=cuba.i_decay - 1, dv=cuba.v_decay, vth=cuba.vth_mant, bias_mant=cuba.bias_mant,
                     bias_exp=cuba.bias_exp)


def lava_lif_args(params: LifParams, floating: bool) -> dict:
    """Keyword arguments of Lava's `LIF` for `params`: the integers for fixed_pt, or for floating_pt the same
    dynamics in a_in units (fixed-point values / 64, no rounding, no ds_offset)."""
    if not floating:
        return {"du": params.du, "dv": params.dv, "vth": params.vth, "bias_mant": params.bias_mant,
                "bias_exp": params.bias_exp}
    return {"du": (params.du + CURRENT_DECAY_OFFSET) / DECAY_UNITY, "dv": params.dv / DECAY_UNITY,
            "vth": params.vth, "bias_mant": params.bias_mant * 2.0 ** params.bias_exp / (1 << ACT_SHIFT),
            "bias_exp": 0}


def lava_dense_weight(weight: np.ndarray, num_weight_bits: int = DENSE_WEIGHT_BITS) -> np.ndarray:
    """The weights Lava's bit-accurate Dense actually multiplies with, via Lava's own weight utilities."""
    sign_mode = determine_sign_mode(weight)
    clipped = clip_weights(weight, sign_mode, num_bits=8)
    return truncate_weights(clipped, sign_mode, num_weight_bits)
