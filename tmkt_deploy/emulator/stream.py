"""Run a `timing="stream"` IR (a lava-dl netx network) batched, exactly like netx's Lava graph runs it.

netx's graph runs freely: every process starts from zero state at Lava step 1, a synapse sends at step t
what it received at step t-1 (Dense, Conv) or t-1+d (DelayDense, delay d), a neuron updates on what
arrives. So, per sample, each layer's input over all S steps is one batched conv/matmul of its source's
outputs (shifted by 1 + delay), and only the neuron registers (and a recurrent synapse, which reads the
layer's own previous step) are stepped through time. Our own code: netx only runs in Lava, one sample and
one step at a time.

Arithmetic mirrors Lava's fixed-point models: `neuron.LifState` (LIF, with per-neuron biases and LIFReset's
schedule), `synapse.SynapseOp` (Dense with the weights Lava multiplies with and its exponent shift, Conv);
a synapse whose `num_message_bits` is 0 sees its input as Lava casts it (`astype(bool)`); `SigmaDeltaState`
mirrors `lava.proc.sdn.models` (`PyDeltaModelFixed`, `PySigmaDeltaModelFixed`, `PySigmaModelFixed`).
Values are integers in float32 where all are below 2**24 (exact; the type the next conv sums in), else
float64 (exact below 2**53).

Every layer's values live in *memory order*: (n, S, neurons) with a spatial layer's neurons in H, W, C order
(channels-last, oneDNN's conv layout), so a conv reads its source and writes its result without a transposing
copy and a neuron kernel reads the result as it lies; dense weights are permuted once to that order.
`StreamRunner.logical` views them as (n, S, C, H, W).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
import torch

from tmkt_common.graph import INPUT

from ..ir import RF_LIMIT, Cuba, Layer, Network, Resonator, SigmaDelta, Synapse
from ..loihi_params import lava_dense_weight, lif_params
from .layout import logical, neuron_major
from .neuron import LifState, wrap
from .synapse import FLOAT32_EXACT, SynapseOp

INT32_MIN = -(1 << 31)


class SigmaDeltaState:
    """Lava's fixed-point Delta / SigmaDelta / Sigma registers for a batch, one step per `step`, with the
    int32 overflow of Lava's numpy registers and ports."""

    def __init__(self, neuron: SigmaDelta, bias: torch.Tensor | float, batch: int, neurons: int,
                 device: torch.device) -> None:
        self.neuron = neuron
        scale = 1 << (neuron.spike_exp + neuron.state_exp)
        self.vth = neuron.vth_mant * scale  # Lava's Delta/SigmaDelta scale vth in the process
        self.bias = bias * scale
        zeros = torch.zeros(batch, neurons, dtype=torch.float64, device=device)
        self.sigma, self.act, self.residue = zeros, zeros.clone(), zeros.clone()

    def step(self, a_in: torch.Tensor, lava_step: int = 0) -> torch.Tensor:
        n = self.neuron
        a_in = wrap(a_in, 32)  # the InPort's int32 sum
        if n.kind == "sigma":
            self.sigma = wrap(self.sigma + a_in, 32)
            return self.sigma
        if n.kind == "delta":
            act = wrap(a_in * (1 << (n.spike_exp + n.state_exp)), 32)
        else:
            self.sigma = wrap(self.sigma + a_in, 32)
            act = torch.clamp_min(wrap(self.sigma + self.bias, 32), 0)  # netx builds SigmaDelta with ReLU
        delta = wrap(act - self.act + self.residue, 32)
        magnitude = torch.where(delta == INT32_MIN, delta, delta.abs())  # numpy: abs(-2**31) is -2**31
        s_out = torch.where(magnitude >= self.vth, delta, torch.zeros_like(delta))
        self.residue = wrap(delta - s_out, 32)
        self.act = act
        return torch.floor(s_out / (1 << n.state_exp))  # numpy right_shift: floor


class ResonatorState:
    """Lava's fixed-point RF / RF_IZ registers (real, imaginary) for a batch, one step per `step` (same
    arithmetic as `rf_kernel`, in float64: every value is an integer below 2**53)."""

    def __init__(self, neuron: Resonator, batch: int, neurons: int, device: torch.device) -> None:
        self.sin, self.cos = neuron.decays()
        self.phase = neuron.kind == "rf"
        self.vth = neuron.vth_mant << neuron.state_exp
        self.shift, self.scale = 1 << neuron.state_exp, 1 << neuron.decay_bits
        self.real = torch.zeros(batch, neurons, dtype=torch.float64, device=device)
        self.imag = torch.zeros_like(self.real)

    def _scaled(self, x: torch.Tensor) -> torch.Tensor:
        return torch.trunc(x / self.scale)  # sign(x) * (|x| >> decay_bits)

    def step(self, a_in: torch.Tensor, lava_step: int = 0) -> torch.Tensor:
        """`a_in` (2, batch, neurons): the real and imaginary inputs."""
        drive = wrap(wrap(a_in, 32) * self.shift, 32)
        real = self._scaled(self.cos * self.real) - self._scaled(self.sin * self.imag) + drive[0]
        imag = self._scaled(self.sin * self.real) + self._scaled(self.cos * self.imag) + drive[1]
        real, imag = real.clamp(-RF_LIMIT, RF_LIMIT), imag.clamp(-RF_LIMIT, RF_LIMIT)
        if self.phase:  # RF: a spike as the phase crosses zero above threshold, real part kept
            fired = (real >= self.vth) & (imag >= 0) & (self.imag < 0)
            self.real = real
        else:
            fired = imag >= self.vth
            self.real = real.masked_fill(fired, 0)
        self.imag = imag.masked_fill(fired, self.vth - 1)
        return fired.to(torch.float64)


class _LifStepper:
    """`LifState` plus LIFReset's schedule (Lava time steps count from 1)."""

    def __init__(self, layer: Layer, batch: int, device: torch.device) -> None:
        neuron = layer.neuron
        params = lif_params(neuron, layer.name)
        bias = None if layer.bias is None else torch.as_tensor(
            _scaled_bias(memory_bias(layer), neuron.bias_exp), dtype=torch.float64, device=device)
        self.state = LifState(params, batch, layer.num_neurons, device, bias=bias)
        self.neuron = neuron

    def step(self, a_in: torch.Tensor, lava_step: int) -> torch.Tensor:
        n = self.neuron
        if n.reset_interval and lava_step % n.reset_interval == n.reset_offset % n.reset_interval:
            self.state.reset()
        return self.state.step(a_in).to(torch.float64)


def neuron_stepper(layer: Layer, batch: int,
                   device: torch.device) -> _LifStepper | SigmaDeltaState | ResonatorState:
    """The layer's neurons for `batch` samples, stepped in torch; neurons in memory order."""
    if isinstance(layer.neuron, Cuba):
        return _LifStepper(layer, batch, device)
    if isinstance(layer.neuron, Resonator):
        return ResonatorState(layer.neuron, batch, layer.num_neurons, device)
    bias = 0.0 if layer.bias is None else torch.as_tensor(memory_bias(layer), dtype=torch.float64,
                                                          device=device)
    return SigmaDeltaState(layer.neuron, bias, batch, layer.num_neurons, device)


def memory_order(shape: tuple[int, ...]) -> np.ndarray:
    """For each neuron in memory order, its index in PyTorch's logical (C, H, W) flattening."""
    index = np.arange(int(np.prod(shape)))
    return index.reshape(shape).transpose(1, 2, 0).ravel() if len(shape) == 3 else index


def memory_bias(layer: Layer) -> np.ndarray:
    """The layer's bias mantissas (zeros if none) per neuron, in memory order."""
    if layer.bias is None:
        return np.zeros(layer.num_neurons, np.int64)
    return np.asarray(layer.bias).reshape(-1)[memory_order(layer.shape)].astype(np.int64)


def delay_ops(syn: Synapse, layer: str, source_shape: tuple[int, ...], shape: tuple[int, ...],
              device: torch.device) -> list[tuple[int, SynapseOp]]:
    """(extra delay, op) pairs of one synapse, dense weights permuted to memory order on both sides: one op,
    or for per-synapse delays (Lava DelayDense) one op per delay value holding the weights with that delay
    (Lava clips and truncates the whole matrix first)."""
    if syn.kind != "dense":
        return [(syn.delay, SynapseOp.build(syn, layer, device))]
    rows, cols = np.ix_(memory_order(shape), memory_order(source_shape))
    weight = lava_dense_weight(np.asarray(syn.weight), syn.weight_bits)[rows, cols]
    if syn.delays is None:
        return [(syn.delay, SynapseOp.from_weight(syn, weight, device))]
    delays = np.asarray(syn.delays)[rows, cols]
    return [(syn.delay + int(d), SynapseOp.from_weight(syn, np.where(delays == d, weight, 0), device))
            for d in np.unique(delays)]


@dataclass
class Fired:
    """A layer's (or the input's) outputs for a batch: `values` (n, S, neurons) in memory order, integers
    (0/1 spikes where `binary`), `top` their largest |value|, `counts` (n,) the nonzero ones per sample and,
    where a kernel counted them on the way, `messages` (neurons,) per neuron."""

    values: torch.Tensor
    top: int
    counts: torch.Tensor
    binary: bool = False
    messages: torch.Tensor | None = None


def largest(values: torch.Tensor) -> int:
    """max |value| (one pass), 0 for an empty tensor."""
    if not values.numel():
        return 0
    low, high = torch.aminmax(values)
    return int(max(-float(low), float(high)))


def _value_dtype(top: int) -> torch.dtype:
    return torch.float32 if top < FLOAT32_EXACT else torch.float64


def _as_sent(values: torch.Tensor, top: int | None, binary: bool, syn: Synapse) -> tuple[torch.Tensor, int]:
    """What the synapse's input port passes on, and its largest |value| (`top`, or measured where None):
    Lava casts to bool when the synapse has no message bits."""
    if syn.num_message_bits == 0 and not binary:
        return (values != 0).to(torch.float32), 1
    return values, largest(values) if top is None else top


def _currents(op: SynapseOp, values: torch.Tensor, top: int, source_shape: tuple[int, ...]) -> torch.Tensor:
    """The op on frames (M, neurons) in memory order → its currents (M, neurons) in memory order (views on
    the conv's channels-last input and output where it leaves them so)."""
    m = len(values)
    if op.syn.kind == "conv":
        channels, height, width = source_shape
        frames = values.reshape(m, height, width, channels).permute(0, 3, 1, 2)
        return neuron_major(op.currents(frames, top))
    return op.currents(values.reshape(m, -1), top)


def _scalar_scale(op: SynapseOp, top: int) -> float | None:
    """The weight of a 1x1 depthwise conv with one weight for all channels (netx's input layer scaling its
    input), where its products are exact in float32 and below Lava's 24-bit wrap: one multiply per value,
    which oneDNN's grouped conv does several times slower; else None."""
    syn, weight = op.syn, np.asarray(op.syn.weight)
    if syn.kind != "conv" or syn.groups != len(weight) or weight.shape[1:] != (1, 1, 1) \
            or tuple(syn.stride) != (1, 1) or tuple(syn.padding) != (0, 0) or op.row_sum * top >= 1 << 23:
        return None
    return float(weight.flat[0]) if (weight == weight.flat[0]).all() else None


class StreamRunner:
    """Every layer's outputs over S free-running steps for batches of inputs, ops built once."""

    def __init__(self, net: Network, device: torch.device, compiled: bool | None = None) -> None:
        """`compiled`: the numba kernels for the input and non-recurrent layers (CPU only; default: on CPU
        where numba is installed, which a GPU box may lack); else every layer steps in torch, as on a GPU."""
        net.validate()
        if net.timing != "stream":
            raise ValueError(f"{net.name}: StreamRunner runs timing='stream' networks (netx imports)")
        self.net, self.device = net, device
        if compiled is None:
            compiled = device.type == "cpu" and importlib.util.find_spec("numba") is not None
        self.compiled = compiled
        self.ops = {lay.name: [(syn, delay_ops(syn, lay.name, net.shape_of(syn.source), lay.shape, device))
                               for syn in lay.synapses] for lay in net.layers}
        self.binary_input = all(syn.num_message_bits == 0 for lay in net.layers for syn in lay.synapses
                                if syn.source == INPUT)

    def __call__(self, frames: torch.Tensor) -> dict[str, Fired]:
        """Inputs (n, C, H, W, S), any real dtype → {"input" and each layer: its outputs} (memory order).
        The caller holds `synapse.exact_kernels()` (process-wide settings)."""
        outputs = {INPUT: self._input(frames)}
        for layer in self.net.layers:
            outputs[layer.name] = self._layer(layer, outputs, len(frames), frames.shape[-1])
        return outputs

    def logical(self, name: str, values: torch.Tensor) -> torch.Tensor:
        """Values (n, S, neurons) in memory order → (n, S, *shape) in PyTorch's logical order (a view)."""
        return logical(values, self.net.shape_of(name))

    def messages(self, name: str, fired: Fired) -> torch.Tensor:
        """Nonzero outputs per neuron over the batch's samples and steps, in the layer's shape (counted in
        memory order, then viewed)."""
        if fired.messages is not None:
            per_neuron = fired.messages
        elif fired.binary:  # 0/1: a sum (exact in float32 below 2**24 steps), faster than count_nonzero
            per_neuron = fired.values.sum(dim=(0, 1), dtype=torch.float64)
        else:
            per_neuron = torch.count_nonzero(fired.values, dim=(0, 1))
        return self.logical(name, per_neuron.view(1, 1, -1))[0, 0]

    def _input(self, frames: torch.Tensor) -> Fired:
        """The input in memory order, in one pass: cast to 0/1 where every input synapse casts to bool (on
        CPU one compiled loop, `input_kernel`, imported here: a GPU box may lack numba)."""
        n, steps = len(frames), frames.shape[-1]
        binary = self.binary_input or frames.dtype == torch.bool
        if self.compiled:
            from .input_kernel import to_memory_order

            values, counts, messages, top = to_memory_order(frames.numpy(), binary)
            return Fired(torch.from_numpy(values), top, torch.from_numpy(counts), binary,
                         torch.from_numpy(messages))
        memory = frames.permute(0, 4, 2, 3, 1)
        if binary and frames.dtype != torch.bool:
            memory = memory != 0
        top = 1 if binary else largest(frames)
        values = torch.empty((n, steps, frames[0, ..., 0].numel()), dtype=_value_dtype(top),
                             device=frames.device)
        values.view(memory.shape).copy_(memory)
        return Fired(values, top, torch.count_nonzero(values.view(n, -1), dim=1), binary)

    def _layer(self, layer: Layer, outputs: dict[str, Fired], n: int, steps: int) -> Fired:
        recurrent, feeds = [], {"real": [], "imag": []}
        for syn, ops in self.ops[layer.name]:
            if syn.source == layer.name:
                recurrent.append((syn, ops))
                continue
            source = outputs[syn.source]
            values, top = _as_sent(source.values, source.top, source.binary, syn)
            feeds[syn.port] += [(1 + delay, op, values, top, syn.source) for delay, op in ops
                                if 1 + delay < steps]
        a_in = self._drive(feeds["real"], n, steps, layer.num_neurons)
        if isinstance(layer.neuron, Resonator):  # its imaginary input too (no recurrence: the IR refuses it)
            a_imag = self._drive(feeds["imag"], n, steps, layer.num_neurons)
            if self.compiled:
                return fire_resonators(layer, a_in, a_imag)
            return self._stepped(layer, torch.stack([a_in.double(), a_imag.double()]), recurrent)
        if not recurrent and self.compiled:
            return fire_window(layer, a_in)
        return self._stepped(layer, a_in.to(torch.float64), recurrent)

    def _drive(self, feeds: list, n: int, steps: int, neurons: int) -> torch.Tensor:
        """One input port's sum over its synapses (n, steps, neurons), each shifted by its 1 + delay steps."""
        bound = sum(op.bound(top) for _, op, _, top, _ in feeds)
        a_in = torch.empty(n, steps, neurons, dtype=_value_dtype(bound), device=self.device)
        for i, (shift, op, values, top, source) in enumerate(feeds):
            if i == 0:
                a_in[:, :shift].zero_()
            scale = _scalar_scale(op, top) if i == 0 else None
            if scale is not None:  # scaled straight into a_in
                torch.mul(values.view(n, steps, -1)[:, :steps - shift], scale, out=a_in[:, shift:])
                continue
            current = _currents(op, values.flatten(0, 1), top, self.net.shape_of(source))
            current = current.view(n, steps, -1)[:, :steps - shift]  # every step's sum, the last ones unused
            if i == 0:
                a_in[:, shift:].copy_(current)
            else:
                a_in[:, shift:] += current
        if not feeds:
            a_in.zero_()
        return a_in

    def _stepped(self, layer: Layer, a_in: torch.Tensor, recurrent: list) -> Fired:
        """A recurrent layer, or any layer without the compiled kernels (GPU): neurons stepped in torch.
        `a_in` (n, S, neurons), or for resonators (2, n, S, neurons): real and imaginary inputs."""
        n, steps = a_in.shape[-3:-1]
        stepper = neuron_stepper(layer, n, self.device)
        binary = not isinstance(layer.neuron, SigmaDelta)
        out = torch.zeros(a_in.shape[-3:], dtype=torch.float64, device=a_in.device)
        for t in range(steps):
            drive = a_in[..., t, :]
            for syn, ops in recurrent:
                for delay, op in ops:
                    if t - 1 - delay >= 0:
                        values, top = _as_sent(out[:, t - 1 - delay], 1 if binary else None, binary, syn)
                        drive = drive + _currents(op, values, top, layer.shape).to(torch.float64)
            out[:, t] = stepper.step(drive, t + 1)
        top = 1 if binary else largest(out)
        return Fired(out, top, torch.count_nonzero(out.view(n, -1), dim=1), binary)


def check_stream_inputs(net: Network, inputs: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Inputs (N, C, H, W, S) as netx's source may send them: bool, integer or float spikes where the first
    synapse casts to binary; integers where it takes graded values (Lava's Dense shifts integer sums).
    Returned in their own dtype (the runner converts each batch once)."""
    x = torch.as_tensor(inputs)
    if x.ndim != 5 or tuple(x.shape[1:4]) != tuple(net.input_shape):
        raise ValueError(f"inputs must be (N, C, H, W, S) with C, H, W = {tuple(net.input_shape)}; got shape "
                         f"{tuple(x.shape)}")
    if x.is_complex():
        raise ValueError(f"inputs must be real spikes or graded values; got dtype {x.dtype}")
    graded = any(syn.source == INPUT and syn.num_message_bits != 0
                 for lay in net.layers for syn in lay.synapses)
    if graded and x.is_floating_point() and not torch.equal(x, x.round()):
        raise ValueError("graded inputs (input_message_bits > 0) must be integers; got non-integer values")
    return x


def fire_window(layer: Layer, a_in: torch.Tensor) -> Fired:
    """A layer without recurrence on CPU: its whole window (n, S, neurons, memory order) in one compiled loop
    (numba, imported here: a GPU box may lack it and never runs this)."""
    from .lif_kernel import lif_window
    from .sdn_kernel import sdn_window

    neuron, x = layer.neuron, a_in.numpy()
    if isinstance(neuron, SigmaDelta):
        values, counts, messages, top = sdn_window(neuron, x, memory_bias(layer))
        return Fired(torch.from_numpy(values), top, torch.from_numpy(counts),
                     messages=torch.from_numpy(messages))
    params = lif_params(neuron, layer.name)
    bias = None if layer.bias is None else _scaled_bias(memory_bias(layer), neuron.bias_exp)
    window = lif_window(params, x, np.float32, bias, neuron.reset_interval, neuron.reset_offset)
    return Fired(torch.from_numpy(window.spikes), 1, torch.from_numpy(window.counts), binary=True)


def fire_resonators(layer: Layer, a_real: torch.Tensor, a_imag: torch.Tensor) -> Fired:
    """A resonate-and-fire layer on CPU: its whole window in one compiled loop (numba, imported here)."""
    from .rf_kernel import resonator_window

    spikes, counts, messages = resonator_window(layer.neuron, a_real.numpy(), a_imag.numpy())
    return Fired(torch.from_numpy(spikes), 1, torch.from_numpy(counts), True, torch.from_numpy(messages))


def _scaled_bias(mant: np.ndarray, exp: int) -> np.ndarray:
    """Lava's `scale_bias` of per-neuron mantissas."""
    mant = mant.astype(np.int64)
    return mant << exp if exp >= 0 else mant >> -exp
