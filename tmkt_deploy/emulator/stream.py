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
Values are float64 (integers below 2**53, exact).
"""

from __future__ import annotations

import numpy as np
import torch

from tmkt_common.graph import INPUT

from ..ir import Cuba, Layer, Network, SigmaDelta, Synapse
from ..loihi_params import lava_dense_weight, lif_params
from .neuron import LifState
from .synapse import FLOAT32_EXACT, SynapseOp


class SigmaDeltaState:
    """Lava's fixed-point Delta / SigmaDelta / Sigma registers for a batch, one step per `step`."""

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
        if n.kind == "sigma":
            self.sigma = self.sigma + a_in
            return self.sigma
        if n.kind == "delta":
            act = a_in * (1 << (n.spike_exp + n.state_exp))
        else:
            self.sigma = self.sigma + a_in
            act = torch.clamp_min(self.sigma + self.bias, 0)  # netx builds SigmaDelta with ReLU
        delta = act - self.act + self.residue
        s_out = torch.where(delta.abs() >= self.vth, delta, torch.zeros_like(delta))
        self.residue = delta - s_out
        self.act = act
        return torch.floor(s_out / (1 << n.state_exp))  # numpy right_shift: floor


class _LifStepper:
    """`LifState` plus LIFReset's schedule (Lava time steps count from 1)."""

    def __init__(self, layer: Layer, batch: int, device: torch.device) -> None:
        neuron = layer.neuron
        params = lif_params(neuron, layer.name)
        bias = None if layer.bias is None else torch.as_tensor(
            _scaled_bias(layer.bias.reshape(-1), neuron.bias_exp), dtype=torch.float64, device=device)
        self.state = LifState(params, batch, layer.num_neurons, device, bias=bias)
        self.neuron = neuron

    def step(self, a_in: torch.Tensor, lava_step: int) -> torch.Tensor:
        n = self.neuron
        if n.reset_interval and lava_step % n.reset_interval == n.reset_offset % n.reset_interval:
            self.state.reset()
        return self.state.step(a_in).to(torch.float64)


def neuron_stepper(layer: Layer, batch: int, device: torch.device) -> _LifStepper | SigmaDeltaState:
    if isinstance(layer.neuron, Cuba):
        return _LifStepper(layer, batch, device)
    bias = 0.0 if layer.bias is None else torch.as_tensor(layer.bias.reshape(-1), dtype=torch.float64,
                                                          device=device)
    return SigmaDeltaState(layer.neuron, bias, batch, layer.num_neurons, device)


def delay_ops(syn: Synapse, layer: str, device: torch.device) -> list[tuple[int, SynapseOp]]:
    """(extra delay, op) pairs of one synapse: one op, or for per-synapse delays (Lava DelayDense) one op per
    delay value holding the weights with that delay (Lava clips and truncates the whole matrix first)."""
    if syn.delays is None:
        return [(syn.delay, SynapseOp.build(syn, layer, device))]
    weight = lava_dense_weight(np.asarray(syn.weight), syn.weight_bits)
    return [(syn.delay + int(d), SynapseOp.from_weight(syn, np.where(syn.delays == d, weight, 0), device))
            for d in np.unique(syn.delays)]


def _largest(values: torch.Tensor) -> int:
    """max |value| (one pass), 0 for an empty tensor."""
    if not values.numel():
        return 0
    low, high = torch.aminmax(values)
    return int(max(-float(low), float(high)))


def _as_sent(values: torch.Tensor, syn: Synapse, binary: bool = False) -> torch.Tensor:
    """What the synapse's input port passes on: Lava casts to bool when the synapse has no message bits
    (`binary`: the values are 0/1 spikes already)."""
    return (values != 0).to(values.dtype) if syn.num_message_bits == 0 and not binary else values


class StreamRunner:
    """Every layer's outputs over S free-running steps for batches of inputs, ops built once."""

    def __init__(self, net: Network, device: torch.device) -> None:
        net.validate()
        if net.timing != "stream":
            raise ValueError(f"{net.name}: StreamRunner runs timing='stream' networks (netx imports)")
        self.net, self.device = net, device
        self.ops = {lay.name: [(syn, delay_ops(syn, lay.name, device)) for syn in lay.synapses]
                    for lay in net.layers}

    def __call__(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """Inputs (n, C, H, W, S) → {"input" and each layer: outputs (n, S, *shape), integers in float64
        (float32 0/1 for CUBA layers on CPU)}."""
        n, steps = len(frames), frames.shape[-1]
        low, high = torch.aminmax(frames) if frames.numel() else (frames.new_zeros(()), frames.new_zeros(()))
        exact32 = max(-float(low), float(high)) < FLOAT32_EXACT  # the synapses sum in float32 then anyway
        outputs = {INPUT: frames.movedim(-1, 1).to(torch.float32 if exact32 else torch.float64,
                                                   memory_format=torch.contiguous_format)}
        for layer in self.net.layers:  # the caller holds `synapse.exact_kernels()` (process-wide settings)
            outputs[layer.name] = self._layer(layer, outputs, n, steps)
        return outputs

    def _layer(self, layer: Layer, outputs: dict[str, torch.Tensor], n: int, steps: int) -> torch.Tensor:
        a_in = torch.zeros(n, steps, layer.num_neurons, dtype=torch.float64, device=self.device)
        recurrent = []
        for syn, ops in self.ops[layer.name]:
            if syn.source == layer.name:
                recurrent.append((syn, ops))
                continue
            binary = syn.source != INPUT and isinstance(self.net.layer(syn.source).neuron, Cuba)
            source = _as_sent(outputs[syn.source], syn, binary)
            top = 1 if binary else _largest(source)
            for delay, op in ops:
                shift = 1 + delay
                if shift < steps:
                    current = op(source[:, :steps - shift].flatten(0, 1), top).to(torch.float64)
                    a_in[:, shift:] += current.view(n, steps - shift, -1)
        if not recurrent and a_in.device.type == "cpu":
            return fire_window(layer, a_in).view(n, steps, *layer.shape)
        stepper = neuron_stepper(layer, n, self.device)
        out = torch.zeros_like(a_in)
        for t in range(steps):
            drive = a_in[:, t]
            for syn, ops in recurrent:
                for delay, op in ops:
                    if t - 1 - delay >= 0:
                        prev = _as_sent(out[:, t - 1 - delay], syn)
                        drive = drive + op(prev, _largest(prev)).to(torch.float64)
            out[:, t] = stepper.step(drive, t + 1)
        return out.view(n, steps, *layer.shape)


def check_stream_inputs(net: Network, inputs: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Inputs (N, C, H, W, S) as netx's source may send them: bool, integer or float spikes where the first
    synapse casts to binary; integers where it takes graded values (Lava's Dense shifts integer sums)."""
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
    return x.to(torch.float64)

def fire_window(layer: Layer, a_in: torch.Tensor) -> torch.Tensor:
    """A layer without recurrence on CPU: its whole window (n, S, neurons) in one compiled loop (numba,
    imported here: a GPU box may lack it and never runs this)."""
    from .lif_kernel import lif_window
    from .sdn_kernel import sdn_window

    neuron, x = layer.neuron, a_in.numpy()
    mant = np.zeros(layer.num_neurons, np.int64) if layer.bias is None else layer.bias.reshape(-1)
    if isinstance(neuron, SigmaDelta):
        return torch.from_numpy(sdn_window(neuron, x, mant))
    params = lif_params(neuron, layer.name)
    bias = None if layer.bias is None else _scaled_bias(mant, neuron.bias_exp)
    window = lif_window(params, x, np.float32, bias, neuron.reset_interval, neuron.reset_offset)
    return torch.from_numpy(window.spikes)


def _scaled_bias(mant: np.ndarray, exp: int) -> np.ndarray:
    """Lava's `scale_bias` of per-neuron mantissas."""
    mant = mant.astype(np.int64)
    return mant << exp if exp >= 0 else mant >> -exp
