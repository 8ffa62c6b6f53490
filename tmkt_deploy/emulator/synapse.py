"""Lava's fixed-point Dense and Conv connection processes as batched torch ops over many frames at once.

What Lava computes per step (lava/proc/dense/models.py `PyDenseModelBitAcc`, lava/proc/conv/models.py
`PyConvModelFixed`), and what we reproduce:

- Dense: weights pass through Lava's own `clip_weights` (8 bits) and `truncate_weights` (`num_weight_bits`),
  the int32 product `W @ s` is shifted by `weight_exp` (left, or arithmetic right = floor), with int32 wraps.
- Conv: the raw weights (Lava's Conv applies no exponent and no clipping), the exact sum, wrapped to 24 bits
  (`utils.signed_clamp`).
- Both send at step t what they received at step t-1 (one step of latency); `Synapse.delay` adds more.

Sums run in float (torch has no integer conv on CPU), which is exact when no partial sum rounds. Every
partial sum here, in any summation order, is a sum of some of the integer products w * s, so it is at most
`bound = max_spike * max_row_sum(|w|)`: below 2**24 every one is an integer that float32 represents exactly,
so any kernel that only multiplies operands and adds products (direct loops, im2col + GEMM, FMA) returns the
exact sum; float64 (exact below 2**53) takes over above that. Kernels that first transform the operands
(Winograd, FFT) round, so we never let torch choose: on CPU, float32 convs call `torch.mkldnn_convolution`
directly, which runs oneDNN's `convolution_direct` algorithm (ideep's `compute_v3` default; oneDNN's fp32
math mode stays "strict" unless ONEDNN_DEFAULT_FPMATH_MODE says otherwise, which we check); every other conv
runs with cuDNN, oneDNN and NNPACK switched off (torch's im2col + GEMM), and TF32 is off for our matmuls.
The same bound tells which of Lava's wraps can ever change a value; the others are skipped.

Conv results keep PyTorch's logical (M, C, H, W) shape in channels-last memory (oneDNN's fast layout), so the
caller can see them as (M, H*W*C) neurons without a copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..ir import Synapse, conv_output_size
from ..loihi_params import lava_dense_weight
from .neuron import wrap

# Frames per conv/matmul call: bounds the temporary float copies (elements of input or output).
CHUNK_ELEMENTS = 1 << 24
FLOAT32_EXACT = 1 << 24
# oneDNN computes float32 in float32 only in its default "strict" math mode (others allow bf16/tf32 inside).
ONEDNN_STRICT = os.environ.get("ONEDNN_DEFAULT_FPMATH_MODE",
                               os.environ.get("DNNL_DEFAULT_FPMATH_MODE", "strict")).lower() == "strict"


def grouped_conv(x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int],
                 dilation: tuple[int, int], groups: int) -> torch.Tensor:
    """PyTorch's grouped conv2d (correlation) as a sum over kernel taps of grouped products on strided views.

    Torch's GEMM-only CPU conv loops over groups one by one (slow for depthwise sum-pools); here each partial
    sum is still a partial sum of the exact result, so the bound argument above holds.
    """
    (sh, sw), (dh, dw) = stride, dilation
    out_ch, in_per_group, kh, kw = weight.shape
    xp = F.pad(x, (padding[1], padding[1], padding[0], padding[0])) if any(padding) else x
    rows = conv_output_size(x.shape[2], kh, sh, padding[0], dh)
    cols = conv_output_size(x.shape[3], kw, sw, padding[1], dw)
    xg = xp.view(len(x), groups, in_per_group, *xp.shape[2:])
    wg = weight.view(groups, out_ch // groups, in_per_group, kh, kw)
    out = x.new_zeros(len(x), groups, out_ch // groups, rows, cols)
    for i in range(kh):
        for j in range(kw):
            tap = xg[..., i * dh:i * dh + sh * (rows - 1) + 1:sh, j * dw:j * dw + sw * (cols - 1) + 1:sw]
            if in_per_group == 1:  # depthwise: a broadcast multiply, no product to reduce
                out.addcmul_(tap, wg[None, :, :, 0, i, j, None, None])
            else:
                out += torch.einsum("goc,mgcyx->mgoyx", wg[..., i, j], tap)
    return out.view(len(x), out_ch, rows, cols)


@contextmanager
def exact_kernels() -> Iterator[None]:
    """GEMM-based conv kernels only and float32 matmuls in full float32, whatever the process set before.

    These are process-wide settings: callers running ops in several threads hold this around all of them, so
    that no thread's exit restores the caller's settings while another still computes."""
    saved = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        with (torch.backends.cudnn.flags(enabled=False), torch.backends.mkldnn.flags(enabled=False),
              torch.backends.nnpack.flags(enabled=False)):
            yield
    finally:
        torch.set_float32_matmul_precision(saved)


@dataclass
class SynapseOp:
    """One IR synapse ready to run: effective weights on the device and Lava's post-sum arithmetic."""

    syn: Synapse
    weights: dict[torch.dtype, torch.Tensor]  # effective weights in float32 and float64, convs channels-last
    row_sum: int  # max over output neurons of sum(|w|): with the largest spike value, bounds every sum

    @classmethod
    def build(cls, syn: Synapse, layer: str, device: torch.device) -> SynapseOp:
        if syn.kind == "dense":
            weight = lava_dense_weight(np.asarray(syn.weight), syn.weight_bits)
        elif syn.kind == "conv":
            if syn.weight_exp != 0:
                raise ValueError(
                    f"IR layer {layer!r}: conv synapse from {syn.source!r} has weight_exp={syn.weight_exp}, "
                    "but Lava's Conv process applies no weight exponent; fold it into the weights"
                )
            weight = np.asarray(syn.weight)
        else:
            raise ValueError(f"IR layer {layer!r}: unknown synapse kind {syn.kind!r} (dense or conv)")
        return cls.from_weight(syn, weight, device)

    @classmethod
    def from_weight(cls, syn: Synapse, weight: np.ndarray, device: torch.device) -> SynapseOp:
        """`syn`'s op multiplying with `weight`, the weights Lava really uses (no further clipping)."""
        row_sum = int(np.abs(weight.astype(np.int64)).reshape(len(weight), -1).sum(axis=1).max(initial=0))
        layout = torch.channels_last if syn.kind == "conv" else torch.contiguous_format
        weights = {dtype: torch.as_tensor(weight, dtype=dtype, device=device).contiguous(memory_format=layout)
                   for dtype in (torch.float32, torch.float64)}
        return cls(syn, weights, row_sum)

    def bound(self, max_spike: int) -> int:
        """The largest |value| this synapse sends (after Lava's wraps and shift) for spikes <= max_spike."""
        raw = self.row_sum * max_spike
        if self.syn.kind == "conv":
            return min(raw, 1 << 23)
        raw, exp = min(raw, 1 << 31), self.syn.weight_exp
        return min(raw << exp, 1 << 31) if exp > 0 else -(-raw >> -exp)

    def __call__(self, frames: torch.Tensor, max_spike: int) -> torch.Tensor:
        """`currents` as `(M, neurons)` in PyTorch's C, H, W order (a copy for a conv)."""
        return self.currents(frames, max_spike).flatten(1)

    def currents(self, frames: torch.Tensor, max_spike: int) -> torch.Tensor:
        """Spikes of many frames `(M, *source_shape)`, none above `max_spike` → synaptic input as float
        integers (float32 when all fit below 2**24, else float64): `(M, C, H, W)` channels-last for a conv,
        `(M, neurons)` for a dense synapse."""
        raw = self.row_sum * max_spike
        dtype = torch.float32 if raw < FLOAT32_EXACT else torch.float64
        weight = self.weights[dtype]
        out_per_frame = len(weight) * (frames[0, 0].numel() if self.syn.kind == "conv" else 1)
        step = max(1, CHUNK_ELEMENTS // max(1, frames[0].numel(), out_per_frame))
        with exact_kernels():
            chunks = [self._sum(frames[i:i + step].to(dtype), weight) for i in range(0, len(frames), step)]
        total = chunks[0] if len(chunks) == 1 else torch.cat(chunks)
        return self._lava_arithmetic(total, raw)

    def _sum(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        syn = self.syn
        if syn.kind == "dense":
            return x.flatten(1) @ weight.T
        if x.device.type == "cpu" and x.dtype == torch.float32 and ONEDNN_STRICT:
            return torch.mkldnn_convolution(x.contiguous(memory_format=torch.channels_last), weight, None,
                                            syn.padding, syn.stride, syn.dilation, syn.groups)
        if syn.groups == 1:
            return F.conv2d(x, weight, stride=syn.stride, padding=syn.padding, dilation=syn.dilation)
        return grouped_conv(x, weight, syn.stride, syn.padding, syn.dilation, syn.groups)

    def _lava_arithmetic(self, total: torch.Tensor, raw: int) -> torch.Tensor:
        """What Lava does to the exact sum (bounded by `raw`): conv wraps to 24 bits; dense wraps to int32 and
        shifts by its exponent. Multiplying or flooring by a power of two is exact in float."""
        if self.syn.kind == "conv":
            return total if raw < 1 << 23 else wrap(total.double(), 24)
        if raw >= 1 << 31:
            total, raw = wrap(total.double(), 32), 1 << 31
        exp = self.syn.weight_exp
        if exp > 0:
            total = total * (1 << exp)
            return total if raw << exp < 1 << 31 else wrap(total.double(), 32)
        return torch.floor(total / (1 << -exp)) if exp < 0 else total
