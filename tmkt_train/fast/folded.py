"""Time-folded layers over SLAYER CUBA blocks, and `FoldedNet` (a chain of them), for fast GPU training.

SLAYER convolves `(N, C, H, W, T)` with `conv3d` kernels of depth 1; we run the same quantized weights as
`conv2d` over `(N*T, C, H, W)` channels-last (pools as window sums, dense as a matrix product), then one
fused Triton scan per layer (`scan.cuba_forward`) does the CUBA dynamics, spike, surrogate and one-step
delay. Each layer is one autograd node that saves only its bf16 input spikes and bf16 surrogate.

Exactness: forward synapses run in float32 (TF32 on tensor cores when cuDNN allows it). With 8-bit weights
(multiples of 1/32 in [-4, 4)) and spikes that are integers 0..255, every operand is exact in TF32 (11
significant bits) and every sum exact in the float32 accumulator while |z| < 2**19, so `z` — and hence every
spike — equals SLAYER's. bf16 is used only where rounding cannot change a spike: saved activations (0/1
spikes and 0..255 graded inputs are exact in bf16), saved surrogates and the backward convolutions. A bf16
*forward* would round `z` to 8 significant bits (exact only while |z| * 32 < 256), so it is not offered.

The SLAYER modules stay the owners of the parameters (shared, not copied): optimise and checkpoint them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tmkt_common.graph import pair

from ..lavadl import slayer
from .constants import CubaConstants
from .scan import Layout, Pool, cuba_backward, cuba_forward, fuses_pool


@dataclass(frozen=True)
class Conv2dSynapse:
    """A SLAYER conv (or dense-as-1x1) synapse as `conv2d` over folded time."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        x = x.to(weight.dtype)
        return F.conv2d(x, weight, None, self.stride, self.padding, self.dilation, self.groups)

    def backward(
        self, grad_z: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, needs: tuple[bool, bool]
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        grad_x, grad_w, _ = torch.ops.aten.convolution_backward(
            grad_z, x, weight, None, self.stride, self.padding, self.dilation, False, (0, 0), self.groups,
            (needs[0], needs[1], False),
        )
        return grad_x, grad_w


@dataclass(frozen=True)
class SumPoolSynapse:
    """A SLAYER pool synapse (one fixed weight on every tap, stride = kernel) as a sum over non-overlapping
    windows times that weight: the same exact sums as SLAYER's depthwise `conv3d`, done as channels-last
    reshapes (cuDNN's depthwise and torch's NHWC avg-pool kernels are slow here)."""

    kernel: tuple[int, int]

    def _windows(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (n, c, h, w) = self.kernel, x.shape
        return x.permute(0, 2, 3, 1).reshape(n, h // kh, kh, w // kw, kw, c)

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        sums = self._windows(x).sum((2, 4), dtype=torch.float32) * weight
        return sums.permute(0, 3, 1, 2)

    def backward(
        self, grad_z: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, needs: tuple[bool, bool]
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not needs[0]:
            return None, None
        spread = (grad_z * weight).permute(0, 2, 3, 1)[:, :, None, :, None, :].expand(self._windows(x).shape)
        return spread.reshape(x.shape[0], x.shape[2], x.shape[3], x.shape[1]).permute(0, 3, 1, 2), None


class LinearSynapse:
    """A SLAYER dense synapse as a matrix product over folded time."""

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(weight.dtype), weight)

    def backward(
        self, grad_z: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, needs: tuple[bool, bool]
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        grad_x = grad_z @ weight if needs[0] else None
        grad_w = grad_z.t() @ x if needs[1] else None
        return grad_x, grad_w


Synapse = Conv2dSynapse | SumPoolSynapse | LinearSynapse


def synaptic_input(synapses: list[Synapse], inputs: list[torch.Tensor],
                   weights: list[torch.Tensor]) -> torch.Tensor:
    """Σ synapse(x, w): a neuron layer's input current. Summed in place into the first term, which no
    synapse's backward reads (they save inputs and weights, never outputs)."""
    z = None
    for syn, x, w in zip(synapses, inputs, weights, strict=True):
        term = syn.forward(x, w)
        z = term if z is None else z.add_(term)
    return z


@dataclass(frozen=True)
class Options:
    """How one node runs: `low` is the dtype of spikes, surrogates and backward math; `voltage` returns the
    float32 voltage; `count` returns the layer's spike count (see `cuba_forward`); `fuse` lets a lone sum
    pool run inside the scan where the backend can (Triton). `fuse` is off by default until it has run on a
    GPU: checked against the unfused path only under Triton's CPU interpreter so far (tests/test_fast_cuba.py;
    on a GPU `benchmarks/train_throughput.py --check --trainers fast-spikingnet,fast-spikingnet-fused` and
    the CUDA tests there decide)."""

    layout: Layout
    delay: bool
    low: torch.dtype
    voltage: bool = False
    count: bool = False
    fuse: bool = False


def _fused_pool(synapses: list[Synapse], tensors: tuple[torch.Tensor, ...], fuse: bool) -> Pool | None:
    """(kernel, weight) when the node is one sum pool the scan can read itself, else None."""
    x = tensors[0]
    if (fuse and len(synapses) == 1 and isinstance(synapses[0], SumPoolSynapse) and fuses_pool(x)
            and x.is_contiguous(memory_format=torch.channels_last)):  # as the kernel indexes it
        return synapses[0].kernel, tensors[1]
    return None


class _SynapsesCuba(torch.autograd.Function):
    """Σ synapses + CUBA neuron + delay as one autograd node; saves only inputs, weights and the surrogate
    (a fused pool: only the surrogate and the weight).

    Tensors come as `x0, w0, x1, w1, ...`; returns (spikes, voltage, counts), the voltage and counts empty
    unless asked for. Gradients are not materialised: an output the loss never reads (the voltage outside
    CKA, the output spikes under a current readout) costs no zero tensor, and a node with neither skips its
    backward.
    """

    @staticmethod
    def forward(ctx, synapses, constants, options, *tensors):  # type: ignore[override]
        o = options
        pool = _fused_pool(synapses, tensors, o.fuse)
        z = tensors[0] if pool is not None else synaptic_input(synapses, tensors[0::2], tensors[1::2])
        spikes, surrogate, voltage, counts = cuba_forward(
            z, o.layout, constants, o.delay, o.low, o.low, o.voltage, o.count, pool
        )
        ctx.save_for_backward(surrogate, *(tensors[1:] if pool is not None else tensors))
        ctx.setup = synapses, constants, options, None if pool is None else tensors[0].shape
        ctx.set_materialize_grads(False)
        counts = counts if o.count else spikes.new_empty(0, dtype=torch.int32)
        ctx.mark_non_differentiable(counts)
        return spikes, voltage if o.voltage else spikes.new_empty(0), counts

    @staticmethod
    def backward(ctx, grad_spikes, grad_voltage, _grad_counts):  # type: ignore[override]
        surrogate, *tensors = ctx.saved_tensors
        synapses, constants, o, pool_input_shape = ctx.setup
        grad_voltage = grad_voltage if o.voltage else None
        nothing = (None,) * len(ctx.needs_input_grad)
        if grad_spikes is None and grad_voltage is None:
            return nothing
        if grad_spikes is None:
            grad_spikes = torch.zeros_like(surrogate)
        if pool_input_shape is not None:
            if not ctx.needs_input_grad[3]:
                return nothing
            pool = synapses[0].kernel, tensors[0]
            grad_x = cuba_backward(grad_spikes, surrogate, o.layout, constants, o.delay, o.low, grad_voltage,
                                   pool, pool_input_shape)
            return (None,) * 3 + (grad_x, None)
        grad_z = cuba_backward(grad_spikes, surrogate, o.layout, constants, o.delay, o.low, grad_voltage)
        grads: list[torch.Tensor | None] = []
        for index, syn in enumerate(synapses):
            x, w = tensors[2 * index], tensors[2 * index + 1]
            needs = (ctx.needs_input_grad[3 + 2 * index], ctx.needs_input_grad[4 + 2 * index])
            grad_x, grad_w = syn.backward(grad_z, x.to(o.low), w.to(o.low), needs)
            grads += [grad_x, None if grad_w is None else grad_w.to(w.dtype)]
        return (None,) * 3 + tuple(grads)


def _folded_synapse(synapse: torch.nn.Module) -> Synapse:
    if isinstance(synapse, slayer.synapse.layer.Dense):
        return LinearSynapse()
    if isinstance(synapse, slayer.synapse.layer.Pool):
        weight, kernel = synapse.weight, pair(synapse.weight.shape[2:4])
        uniform = bool(torch.all(weight == weight.flatten()[0]))
        if weight.requires_grad or not uniform or pair(synapse.stride) != kernel or any(synapse.padding):
            raise ValueError("pool synapse: the fast path needs fixed equal weights, stride = kernel, no pad")
        return SumPoolSynapse(kernel)
    return Conv2dSynapse(
        pair(synapse.stride), pair(synapse.padding), pair(synapse.dilation), int(synapse.groups)
    )


class FoldedNode:
    """One CUBA neuron layer fed by one or more SLAYER synapses (a `Conv`/`Pool`/`Dense` block, or a
    `ResidualCuba`), run over folded time. It only reads the SLAYER module (weights, quantizer, neuron
    constants), so it is a plain object, not a second owner of the parameters."""

    def __init__(self, module: torch.nn.Module, name: str):
        """`module`: the SLAYER node; `name` labels errors about options the fast path does not model."""
        synapses = list(module.synapses) if _residual(module) else [module.synapse]
        problems = {
            "an axon delay (delay=True)": getattr(module, "delay", None) is not None,
            "weight_norm": any(s.weight_norm_enabled for s in synapses),
            "a synapse bias": any(s.bias is not None for s in synapses),
            "a dense mask": getattr(module, "mask", None) is not None,
        }
        used = [problem for problem, present in problems.items() if present]
        if used:
            raise ValueError(f"{name}: the fast path does not support {', '.join(used)}")
        self.slayer_synapses = synapses
        self.constants = CubaConstants.from_neuron(module.neuron, f"{name}.neuron")
        self.delay = bool(getattr(module, "delay_shift", True))
        self.synapses = [_folded_synapse(s) for s in synapses]

    def _weight(self, synapse: torch.nn.Module, folded: Synapse) -> torch.Tensor:
        """SLAYER's quantized weight (its `pre_hook_fx`), reshaped for the folded synapse."""
        weight = synapse.weight if synapse.pre_hook_fx is None else synapse.pre_hook_fx(synapse.weight)
        if isinstance(folded, SumPoolSynapse):
            return weight.flatten()[0]
        weight = weight[..., 0]
        if isinstance(folded, LinearSynapse):
            return weight.flatten(1)
        return weight.contiguous(memory_format=torch.channels_last)

    def __call__(
        self, inputs: list[torch.Tensor], steps: int, low: torch.dtype, want_voltage: bool = False,
        delay: bool | None = None, count: bool = False, fuse: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(spikes, voltage or an empty tensor, per-neuron spike counts or an empty tensor: see `Options`) for
        folded inputs, one per synapse; `delay` overrides the block's own `delay_shift` (the delay-free
        training run passes False)."""
        tensors = []
        for slayer_syn, folded, x in zip(self.slayer_synapses, self.synapses, inputs, strict=True):
            if isinstance(folded, SumPoolSynapse):
                x = _pad_like_slayer(x, folded.kernel)
            tensors += [x, self._weight(slayer_syn, folded)]
        delay = self.delay if delay is None else delay
        options = Options(Layout(steps), delay, low, want_voltage, count, fuse)
        return _SynapsesCuba.apply(self.synapses, self.constants, options, *tensors)

    def current(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """The layer's synaptic input for folded inputs (differentiable, outside the fused kernel): the
        readout the classification loss reads."""
        weights = [self._weight(slayer_syn, folded)
                   for slayer_syn, folded in zip(self.slayer_synapses, self.synapses, strict=True)]
        return synaptic_input(self.synapses, inputs, weights)


def _pad_like_slayer(x: torch.Tensor, kernel: tuple[int, int]) -> torch.Tensor:
    """SLAYER's pool pads odd sizes with zeros at the bottom/right by `size % kernel`."""
    pad_h, pad_w = x.shape[2] % kernel[0], x.shape[3] % kernel[1]
    return F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x


def _residual(module: torch.nn.Module) -> bool:
    """A `models.residual.ResidualCuba` (several synapses into one neuron), known by its shape so this
    kernel package imports no model code."""
    return isinstance(getattr(module, "synapses", None), torch.nn.ModuleList) and hasattr(module, "neuron")


def folded_layer(module: torch.nn.Module, name: str) -> FoldedNode | None:
    """The folded twin of a SLAYER node; `None` for `Flatten` (a reshape)."""
    if isinstance(module, slayer.block.cuba.Flatten):
        return None
    cuba = slayer.block.cuba
    if isinstance(module, (cuba.Conv, cuba.Pool, cuba.Dense)) or _residual(module):
        return FoldedNode(module, name)
    raise ValueError(f"{name}: the fast path supports cuba Conv, Pool, Dense, Flatten and residual nodes")


def flatten(x: torch.Tensor) -> torch.Tensor:
    """SLAYER's `Flatten` (C, H, W order) over folded time."""
    return x.reshape(x.shape[0], -1)


def fold_time(x: torch.Tensor) -> torch.Tensor:
    """`(N, ..., T)` → `(N*T, ...)`, channels-last for images."""
    folded = x.movedim(-1, 1).reshape(-1, *x.shape[1:-1])
    return Layout(x.shape[-1]).contiguous(folded)


def unfold_time(x: torch.Tensor, steps: int) -> torch.Tensor:
    """`(N*T, ...)` → SLAYER's `(N, ..., T)`."""
    return x.reshape(x.shape[0] // steps, steps, *x.shape[1:]).movedim(1, -1)


class FoldedNet(torch.nn.Module):
    """A chain of SLAYER CUBA blocks (`Conv`, `Pool`, `Dense`, `Flatten`) run the fast way.

    `mixed=True` (default) keeps activations, surrogates and backward math in bf16 on CUDA; the forward
    synaptic sums stay exact either way. On CPU everything is float32. `fuse`: see `Options`.
    """

    def __init__(self, blocks: Iterable[torch.nn.Module], mixed: bool = True, fuse: bool = False):
        super().__init__()
        self.mixed, self.fuse = mixed, fuse
        self.blocks = torch.nn.ModuleList(blocks)
        self.layers = [
            folded_layer(block, f"block {i} ({type(block).__name__})") for i, block in enumerate(self.blocks)
        ]

    def forward(self, x: torch.Tensor, return_layers: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Output spikes `(N, K, T)` for input `(N, C, H, W, T)`; with `return_layers`, every block's."""
        steps = x.shape[-1]
        low = torch.bfloat16 if x.is_cuda and self.mixed else torch.float32
        h = fold_time(x)
        outputs = []
        for layer in self.layers:
            h = flatten(h) if layer is None else layer([h], steps, low, fuse=self.fuse)[0]
            if return_layers:
                outputs.append(unfold_time(h, steps))
        if return_layers:
            return outputs
        return unfold_time(h, steps).to(x.dtype)
