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
On a GPU, convs are one im2col copy + one GEMM per chunk (`gemm_conv`); where spikes and weights fit int8
(0/1 spikes; quantized weights are even, so halved they do) the GEMM runs on int8 operands with int32
accumulation (`torch._int_mm`, integer arithmetic: exact by construction, checked once per synapse against
the float GEMM).
On CPU, convs and dense synapses of spikes (0/1, or graded payloads up to 127) with weights that fit int8 run
as oneDNN's int8 convolution and inner product (`torch.ops.onednn.qconv2d_pointwise`, `qlinear_pointwise`:
the ops PyTorch's x86 int8 inference lowers to): u8 inputs times s8 weights summed in int32 (VNNI where the
CPU has it), handed back as float32 times a power-of-two weight scale (exact below 2**24, like the float
path's sums), and checked once per synapse against the float path. Measured on the 2-core EPYC
(AVX512-VNNI), one thread: 2-3.5x faster than the float32 direct conv on SCNN's and VGGSNN's spike layers,
6x on SCNN's 4,608-input dense layer; the LIF kernel then writes 1-byte spikes instead of 4-byte ones.
The same bound tells which of Lava's wraps can ever change a value; the others are skipped.

Conv results keep PyTorch's logical (M, C, H, W) shape in channels-last memory (oneDNN's fast layout), so the
caller can see them as (M, H*W*C) neurons without a copy.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterator
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
INT8_MAX = 127  # spikes and (scaled) weights up to this run through int8 GEMMs on a GPU
# Spikes up to this run through oneDNN's int8 ops on CPU (u8 inputs): on CPUs without VNNI its kernels add
# pairs of u8 * s8 products in int16, saturating, and 2 * 127 * 128 stays below 2**15.
ONEDNN_MAX_SPIKE = 127
CHECK_FRAMES = 8  # frames of a synapse's first int8 GEMM compared with the float32 one
# oneDNN computes float32 in float32 only in its default "strict" math mode (others allow bf16/tf32 inside).
ONEDNN_STRICT = os.environ.get("ONEDNN_DEFAULT_FPMATH_MODE",
                               os.environ.get("DNNL_DEFAULT_FPMATH_MODE", "strict")).lower() == "strict"


def _has_onednn_int8() -> bool:
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.onednn, "qconv2d_pointwise")
    except (AttributeError, RuntimeError):
        return False


# Whether CPU synapses run as oneDNN's int8 ops: this torch build has them (x86 builds of torch 2.1 and later
# do) and oneDNN computes float32 strictly (their output conversion then is exact).
CPU_INT8 = _has_onednn_int8() and ONEDNN_STRICT


def grouped_conv(x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int],
                 dilation: tuple[int, int], groups: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """PyTorch's grouped conv2d (correlation) as a sum over kernel taps of grouped products on strided views.

    Torch's GEMM-only CPU conv loops over groups one by one (slow for depthwise sum-pools); here each partial
    sum is still a partial sum of the exact result, so the bound argument above holds. `x` may be of any type
    (0/1 bool spikes on a GPU: a depthwise tap is cast as it is multiplied, no float copy of `x`); the result
    is in the weights' type, channels-last (the layout the neurons read as it lies), written into `out` if
    given (a channels-last (M, C_out, H', W') slice of the layer's result).
    """
    (sh, sw), (dh, dw) = stride, dilation
    out_ch, in_per_group, kh, kw = weight.shape
    xp = F.pad(x, (padding[1], padding[1], padding[0], padding[0])) if any(padding) else x
    rows = conv_output_size(x.shape[2], kh, sh, padding[0], dh)
    cols = conv_output_size(x.shape[3], kw, sw, padding[1], dw)
    xg = xp.view(len(x), groups, in_per_group, *xp.shape[2:])
    wg = weight.view(groups, out_ch // groups, in_per_group, kh, kw)
    if out is None:
        out = torch.empty((len(x), out_ch, rows, cols), dtype=weight.dtype, device=x.device,
                          memory_format=torch.channels_last)
    total = out.view(len(x), groups, out_ch // groups, rows, cols)
    for i in range(kh):
        for j in range(kw):
            tap = xg[..., i * dh:i * dh + sh * (rows - 1) + 1:sh, j * dw:j * dw + sw * (cols - 1) + 1:sw]
            if in_per_group == 1:  # depthwise: a broadcast multiply, no product to reduce
                product = tap, wg[None, :, :, 0, i, j, None, None]
                if i or j:
                    total.addcmul_(*product)
                else:  # the first tap written, not added: no zeroing pass
                    torch.mul(*product, out=total)
            elif i or j:
                total += torch.einsum("goc,mgcyx->mgoyx", wg[..., i, j], tap.to(weight.dtype))
            else:
                total.copy_(torch.einsum("goc,mgcyx->mgoyx", wg[..., i, j], tap.to(weight.dtype)))
    return out


def gemm_conv(x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int], padding: tuple[int, int],
              dilation: tuple[int, int],
              matmul: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
              out: torch.Tensor | None = None) -> torch.Tensor:
    """PyTorch's conv2d (groups=1) as one im2col copy and one GEMM, in channels-last memory end to end.

    For GPUs: without cuDNN (whose algorithm choice may round) torch's CUDA conv runs im2col + GEMM once per
    frame, thousands of small launches per layer; here a whole chunk is one strided copy of the padded
    (M, H, W, C) input to (M·H'·W', kh·kw·C) columns and one matmul with the weights (kh·kw·C, C_out), whose
    (M·H'·W', C_out) result is already the channels-last (M, C_out, H', W'). Sums of products only: exact
    under the module's bound. `matmul(columns, kernel, out)` replaces `columns @ kernel` (the int8 path).
    `out`: a contiguous (M·H'·W', C_out) buffer the GEMM writes into (a slice of the layer's result, so
    chunks need no concatenation); else a fresh one.
    """
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    out_ch, in_ch, kh, kw = weight.shape
    rows = conv_output_size(x.shape[2], kh, sh, ph, dh)
    cols = conv_output_size(x.shape[3], kw, sw, pw, dw)
    nhwc = _packed(x.permute(0, 2, 3, 1).contiguous())  # channels-last x: no copy
    nhwc = F.pad(nhwc, (0, 0, pw, pw, ph, ph)) if ph or pw else nhwc
    m, s_m, s_h, s_w = len(nhwc), nhwc.stride(0), nhwc.stride(1), nhwc.stride(2)
    words = nhwc.shape[-1]
    taps = nhwc.as_strided((m, rows, cols, kh, kw, words), (s_m, sh * s_h, sw * s_w, dh * s_h, dw * s_w, 1))
    columns = taps.reshape(m * rows * cols, kh * kw * words).view(torch.uint8).view(x.dtype)
    kernel = weight.permute(2, 3, 1, 0).reshape(kh * kw * in_ch, out_ch)
    if out is None:
        out = torch.empty((m * rows * cols, out_ch), device=x.device,
                          dtype=torch.int32 if matmul is not None else torch.result_type(columns, kernel))
    if matmul is None:
        torch.matmul(columns, kernel, out=out)
    else:
        matmul(columns, kernel, out)
    return out.view(m, rows, cols, out_ch).permute(0, 3, 1, 2)


def _packed(nhwc: torch.Tensor) -> torch.Tensor:
    """A contiguous (M, H, W, C) tensor with each pixel's C values seen as the fewest, widest integers that
    hold their bytes (int64 for 8 int8 spikes or 2 float32 values): the same bytes, so the pad and im2col
    copies move them several bytes per element (a strided copy kernel of 1-byte elements runs at a fraction
    of the GPU's bandwidth: 25 % of the H100's emulator time, profiled)."""
    row_bytes, offset = nhwc.shape[-1] * nhwc.element_size(), nhwc.storage_offset() * nhwc.element_size()
    wide = next(t for t in (torch.int64, torch.int32, torch.int16, torch.uint8)
                if row_bytes % t.itemsize == 0 and offset % t.itemsize == 0)
    return nhwc.view(torch.uint8).view(wide)


def _copy_rows(rows: torch.Tensor, total: torch.Tensor) -> None:
    """A conv sum (M, C_out, H', W') into its (M·H'·W', C_out) rows of the layer's result, cast to their type
    (exact: integers under the module's bound)."""
    rows.view(len(total), *total.shape[2:], -1).copy_(total.permute(0, 2, 3, 1))


def _rows(sums: torch.Tensor) -> torch.Tensor:
    """Sums as (outputs, channels) rows: a conv's (M, C, H', W') channels-last as (M·H'·W', C) (a view), a
    dense synapse's (M, N) as it is."""
    return sums.permute(0, 2, 3, 1).reshape(-1, sums.shape[1]) if sums.ndim == 4 else sums


def onednn_int8_sum(spikes: torch.Tensor, syn: Synapse, q: OneDnnInt8) -> torch.Tensor:
    """`syn`'s sum for uint8 frames `spikes` by oneDNN's int8 convolution (channels-last float32 result) or
    inner product ((M, N) float32). (A seam: a test plants a wrong sum here.)"""
    if syn.kind == "dense":
        return torch.ops.onednn.qlinear_pointwise(spikes.flatten(1), 1.0, 0, q.packed, q.scales, q.zeros,
                                                  None, 1.0, 0, torch.float32, "none", [], "")
    return torch.ops.onednn.qconv2d_pointwise(
        spikes.contiguous(memory_format=torch.channels_last), 1.0, 0, q.packed, q.scales, q.zeros, None,
        list(syn.stride), list(syn.padding), list(syn.dilation), syn.groups, 1.0, 0, torch.float32,
        "none", [], "")


def runs_gemm(device: torch.device) -> bool:
    """Whether convs on `device` run as im2col GEMMs (`gemm_conv`, int8 where the weights allow): GPUs. (A
    seam: the tests run the GPU's conv path on CPU by answering True, with `int_matmul` replaced.)"""
    return device.type != "cpu"


def int_matmul(columns: torch.Tensor, kernel: torch.Tensor, out: torch.Tensor) -> None:
    """int8 (rows, K) @ int8 (K, C_out) → int32 `out`, exact (`torch._int_mm`: the GPU's integer tensor
    cores; it wants the kernel column-major, which `SynapseOp` keeps it in)."""
    torch._int_mm(columns, kernel, out=out)


@contextmanager
def exact_kernels() -> Iterator[None]:
    """GEMM-based conv kernels only and float32 matmuls in full float32, whatever the process set before.

    These are process-wide settings: the first caller to enter sets them and the last to leave restores them,
    so threads computing side by side (and nested calls, one per synapse op inside an emulation that holds
    it too: they cost nothing then) never see them restored while one of them still computes."""
    global _exact_holders
    with _exact_lock:
        _exact_holders += 1
        if _exact_holders == 1:
            _exact_saved[:] = [torch.get_float32_matmul_precision(), torch.backends.cudnn.enabled,
                               torch.backends.mkldnn.enabled, torch.backends.nnpack.set_flags(False)[0]]
            torch.set_float32_matmul_precision("highest")
            torch.backends.cudnn.enabled = torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        with _exact_lock:
            _exact_holders -= 1
            if _exact_holders == 0:
                precision, torch.backends.cudnn.enabled, torch.backends.mkldnn.enabled, nnpack = _exact_saved
                torch.set_float32_matmul_precision(precision)
                torch.backends.nnpack.set_flags(nnpack)


_exact_lock = threading.Lock()
_exact_holders = 0  # callers inside `exact_kernels` now
_exact_saved: list = []  # the settings the first of them found


def _int8_scaled(weight: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Integer weights as int8 values times a scale: halved when all are even (quantized Lava weights in
    [-256, 254] are), else as they are; None when they still do not fit."""
    w = weight.astype(np.int64)
    scale = 2 if not (w % 2).any() else 1
    if np.abs(w // scale).max(initial=0) > INT8_MAX:
        return None
    return (w // scale).astype(np.int8), scale


def _int8_weights(syn: Synapse, weight: np.ndarray, device: torch.device) -> tuple[torch.Tensor, int] | None:
    """A GPU conv's weights as int8 and their scale (`_int8_scaled`), where `torch._int_mm`'s shapes allow
    (no groups, kh·kw·C_in and C_out multiples of 8); else None (float GEMM)."""
    if not runs_gemm(device) or syn.kind != "conv" or syn.groups != 1:
        return None
    out_ch, in_ch, kh, kw = weight.shape
    scaled = _int8_scaled(weight)
    if (kh * kw * in_ch) % 8 or out_ch % 8 or scaled is None:
        return None
    return torch.as_tensor(scaled[0], device=device).contiguous(memory_format=torch.channels_last), scaled[1]


@dataclass
class OneDnnInt8:
    """A CPU synapse's weights prepacked for oneDNN's int8 convolution or inner product, with the per-channel
    weight scales (their power-of-two scale from `_int8_scaled`, which the op applies exactly as it converts
    the int32 sums to float32) and zero points (zeros) the ops want."""

    packed: torch.Tensor
    scales: torch.Tensor
    zeros: torch.Tensor


def _onednn_int8(syn: Synapse, weight: np.ndarray, device: torch.device) -> OneDnnInt8 | None:
    """`syn`'s oneDNN int8 op on CPU where it runs (`CPU_INT8`) and the weights fit int8; else None (float32
    sums)."""
    if device.type != "cpu" or not CPU_INT8:
        return None
    scaled = _int8_scaled(weight)
    if scaled is None:
        return None
    scales, zeros = torch.full((len(weight),), float(scaled[1])), torch.zeros(len(weight), dtype=torch.int64)
    try:
        if syn.kind == "dense":
            packed = torch.ops.onednn.qlinear_prepack(torch.from_numpy(scaled[0]), None)
        else:
            packed = torch.ops.onednn.qconv_prepack(
                torch.from_numpy(scaled[0]).contiguous(memory_format=torch.channels_last), scales, 1.0, 0,
                list(syn.stride), list(syn.padding), list(syn.dilation), syn.groups, None)
    except RuntimeError:  # a CPU or build oneDNN has no int8 kernel for
        return None
    return OneDnnInt8(packed, scales, zeros)


@dataclass
class SynapseOp:
    """One IR synapse ready to run: effective weights on the device and Lava's post-sum arithmetic."""

    syn: Synapse
    weights: dict[torch.dtype, torch.Tensor]  # effective weights in float32 and float64, convs channels-last
    row_sum: int  # max over output neurons of sum(|w|): with the largest spike value, bounds every sum
    int8: tuple[torch.Tensor, int] | None = None  # GPU convs: (weights / scale as int8, scale), see _int8
    int8_checked: bool = False  # the int8 path's first result was compared with the float one
    gemm: bool = False  # convs as im2col GEMMs into one preallocated result (`runs_gemm`: GPUs)
    onednn: OneDnnInt8 | None = None  # CPU synapses as oneDNN int8 ops, see `_onednn_int8`

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
        return cls(syn, weights, row_sum, _int8_weights(syn, weight, device), gemm=runs_gemm(device),
                   onednn=_onednn_int8(syn, weight, device))

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
        use_int8 = self.int8 is not None and dtype == torch.float32 and max_spike <= INT8_MAX
        with exact_kernels():
            if self.gemm and self.syn.kind == "conv":
                return self._lava_arithmetic(self._gpu_conv_currents(frames, weight, step, use_int8), raw)
            chunks, int8_fits = [], dtype == torch.float32 and max_spike <= ONEDNN_MAX_SPIKE
            for i in range(0, len(frames), step):
                x = frames[i:i + step]  # (a failed int8 check turns `onednn` off for the chunks after it)
                chunks.append(self._onednn_sum(x) if int8_fits and self.onednn else self._sum(x, weight))
        total = chunks[0] if len(chunks) == 1 else torch.cat(chunks)
        return self._lava_arithmetic(total, raw)

    def _gpu_conv_currents(self, frames: torch.Tensor, weight: torch.Tensor, step: int,
                       use_int8: bool) -> torch.Tensor:
        """A GPU conv over all frames, `step` frames per GEMM (or grouped conv), each writing its rows of one
        preallocated channels-last result: int32 on the int8 path (exact; the LIF kernel reads it as it is),
        else the weights' float type. No per-chunk cast and no concatenation: each output value is written
        once."""
        syn = self.syn
        rows, cols = (conv_output_size(frames.shape[2 + k], weight.shape[2 + k], syn.stride[k],
                                       syn.padding[k], syn.dilation[k]) for k in (0, 1))
        out = torch.empty((len(frames), len(weight), rows, cols), device=frames.device,
                          dtype=torch.int32 if use_int8 else weight.dtype, memory_format=torch.channels_last)
        flat = out.permute(0, 2, 3, 1).view(-1, len(weight))
        per_frame = rows * cols
        for i in range(0, len(frames), step):
            x, target = frames[i:i + step], flat[i * per_frame:(i + step) * per_frame]
            if syn.groups != 1:
                grouped_conv(x, weight, syn.stride, syn.padding, syn.dilation, syn.groups,
                             out=out[i:i + step])
            elif use_int8 and self.int8 is not None and len(target) > 16:  # _int_mm wants more than 16 rows
                self._int8_sum(x, target)
            else:
                total = gemm_conv(x.to(weight.dtype), weight, syn.stride, syn.padding, syn.dilation,
                                  out=None if target.dtype != weight.dtype else target)
                if target.dtype != weight.dtype:  # the int8 path switched off mid-way: exact integers
                    _copy_rows(target, total)
        return out

    def _sum(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The exact sum for frames `x` (any type) in the weights' float type."""
        syn = self.syn
        if syn.kind == "dense":
            return x.flatten(1).to(weight.dtype) @ weight.T
        if not self.gemm and weight.dtype == torch.float32 and ONEDNN_STRICT:  # the CPU's convs
            return torch.mkldnn_convolution(x.to(weight.dtype).contiguous(memory_format=torch.channels_last),
                                            weight, None, syn.padding, syn.stride, syn.dilation, syn.groups)
        if syn.groups == 1 and self.gemm:
            return gemm_conv(x.to(weight.dtype), weight, syn.stride, syn.padding, syn.dilation)
        if syn.groups == 1:
            return F.conv2d(x.to(weight.dtype), weight, stride=syn.stride, padding=syn.padding,
                            dilation=syn.dilation)
        return grouped_conv(x, weight, syn.stride, syn.padding, syn.dilation, syn.groups)

    def _int8_sum(self, x: torch.Tensor, out: torch.Tensor) -> None:
        """The conv sum of frames `x` with int8 operands and int32 accumulation (`int_matmul`, exact by
        construction) into `out` ((M·H'·W', C_out) int32 rows of the layer's result), times the weights'
        scale. Its first result is compared on a few frames with the float32 GEMM's; a difference or an
        error switches this synapse to the float path for good, with a warning (`out` is then filled from
        the float sum: exact integers)."""
        syn, (weight, scale) = self.syn, self.int8
        try:
            spikes = x.view(torch.int8) if x.dtype == torch.bool else x.to(torch.int8)  # 0/1 bytes: no copy
            gemm_conv(spikes, weight, syn.stride, syn.padding, syn.dilation, matmul=int_matmul, out=out)
            if scale != 1:
                out.mul_(scale)  # in place, exact: |sum| < 2**24
            self._verify_int8(x, out)
        except RuntimeError as exc:
            self.int8 = None
            _copy_rows(out, self._int8_off(x, exc))

    def _onednn_sum(self, x: torch.Tensor) -> torch.Tensor:
        """The sum for frames `x` (values 0..127, any type; uint8 ones are read as they are) by oneDNN's int8
        convolution or inner product: float32, in `_sum`'s layout. Checked once against `_sum`; a difference
        or an error switches this synapse to the float path for good, with a warning."""
        try:
            out = onednn_int8_sum(x if x.dtype == torch.uint8 else x.to(torch.uint8), self.syn, self.onednn)
            self._verify_int8(x, _rows(out))
        except RuntimeError as exc:
            self.onednn = None
            return self._int8_off(x, exc)
        return out

    def _verify_int8(self, x: torch.Tensor, rows: torch.Tensor) -> None:
        """Once per synapse: the int8 path's sums for frames `x` (as `_rows`, first frames first) against the
        float32 path's on the first `CHECK_FRAMES` frames; RuntimeError if any differs."""
        if self.int8_checked:
            return
        expected = _rows(self._sum(x[:CHECK_FRAMES].to(torch.float32), self.weights[torch.float32]))
        if not torch.equal(rows[:len(expected)].to(torch.float32), expected):
            raise RuntimeError("int8 and float32 sums differ")
        self.int8_checked = True

    def _int8_off(self, x: torch.Tensor, error: RuntimeError) -> torch.Tensor:
        """After the int8 path failed on frames `x` (`error`; the caller has switched it off): a warning, and
        the float32 sum of `x` instead."""
        warnings.warn(f"synapse {self.syn.source!r}: int8 conv path off ({error}); float32 sums instead",
                      RuntimeWarning, stacklevel=3)
        return self._sum(x.to(torch.float32), self.weights[torch.float32])

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
