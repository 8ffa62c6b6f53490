"""IR → Lava processes (lava.proc Dense, Conv, LIFReset, io RingBuffer source and Extractors; our SpikeDelay
for residual paths). Neuron and weight parameters come from `tmkt_deploy.loihi_params` (shared with the
emulator).

Layout. The IR is PyTorch-ordered: neurons (C, H, W), conv weights (out, in/g, kh, kw). Lava's Conv works in
(X, Y, C) = (W, H, C) with a true (flipped) convolution kernel (out, kw, kh, in/g), exactly as lava-dl's netx
converts SLAYER exports; a dense synapse reading a spatial layer reads `transpose([2, 1, 0]).flatten()`, i.e.
PyTorch's C, H, W flatten order.

Samples back to back. Like the trained model (contract 1), each sample runs for P = T + L steps: its T
graded frames, then L empty steps (L = the output's latency) so the last frames reach the output. All samples
are one stream of N*P steps. Every neuron population is a `LIFReset` with `reset_interval=P`: a layer of
latency l first receives sample k's input at step k*P + l + 1 (1-based Lava steps: source at step 1, one step
per synapse), so it resets to zero state exactly then (`reset_offset = (l + 1) % P`). Its spikes at steps
k*P + 1 .. k*P + l are sample k-1's late tail (beyond k-1's P steps, where SLAYER stops; SLAYER's own spikes
there are zero by construction), so the reader masks them; from there on Lava's step k*P + t + 1 equals
SLAYER's delayed output at index t of the padded run.

Recording. Each recorded layer feeds an `io.extractor.Extractor` with a P-step buffer, drained after every
sample (`LavaGraph.collect`): one message per step and layer. (Reading an `io.sink.RingBuffer` afterwards
goes through Lava's `Var.get`, which sends every element as its own message: about a minute for a few
samples of a 48x48 net.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.io.extractor import Extractor
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIFReset

from tmkt_common.errors import UnsupportedError
from tmkt_common.graph import INPUT

from ..ir import Layer, Network, Synapse, merge_groups
from ..loihi_params import DENSE_WEIGHT_BITS, lava_lif_args, lif_params
from .delay import SpikeDelay

GRADED_BITS = 8  # the input's graded-spike payload (contract 1)
MAX_GROUPS = 127  # Lava's PyConvModel keeps `groups` in an int8 Var


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """IR (C, H, W) → Lava (W, H, C); dense (N,) stays."""
    return tuple(reversed(shape))


def frames_to_stream(frames: np.ndarray, steps: int) -> np.ndarray:
    """Samples (N, C, H, W, T) → one Lava source stream (W, H, C, N*steps), each zero-padded to steps."""
    n, c, h, w, t = frames.shape
    padded = np.zeros((n, c, h, w, steps), dtype=frames.dtype)
    padded[..., :t] = frames
    return padded.transpose(3, 2, 1, 0, 4).reshape(w, h, c, n * steps)


def stream_to_samples(data: np.ndarray, shape: tuple[int, ...], samples: int, steps: int) -> np.ndarray:
    """A recorded (Lava shape..., N*T) stream → (N, *IR shape, T) in IR order."""
    ir_order = data.reshape(*lava_shape(shape), samples * steps).transpose(*reversed(range(len(shape))),
                                                                           len(shape))
    return np.moveaxis(ir_order.reshape(*shape, samples, steps), -2, 0)


def conv_weight(weight: np.ndarray) -> np.ndarray:
    """IR conv weight (out, in/g, kh, kw) → Lava Conv (out, kw, kh, in/g), flipped (true convolution)."""
    return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))


def fit_groups(weight: np.ndarray, groups: int) -> tuple[np.ndarray, int]:
    """The same convolution with at most MAX_GROUPS groups: Lava's Conv model stores `groups` as int8, so a
    depthwise conv over >= 128 channels (a pool, an identity shortcut) would wrap to a negative group count.
    Merging the fewest neighbouring groups that fit (`ir.merge_groups`) keeps the convolution."""
    if groups <= MAX_GROUPS:
        return weight, groups
    merge = next(r for r in range(2, groups + 1) if groups % r == 0 and groups // r <= MAX_GROUPS)
    return merge_groups(weight, groups, merge), groups // merge


def connection(syn: Synapse, source_shape: tuple[int, ...], layer: Layer, graded: bool) -> AbstractProcess:
    """The Lava Dense or Conv process for one IR synapse."""
    bits = GRADED_BITS if graded else 0
    if syn.kind == "dense":
        return Dense(weights=syn.weight.astype(np.int32), weight_exp=syn.weight_exp, num_message_bits=bits,
                     num_weight_bits=DENSE_WEIGHT_BITS,
                     name=f"{layer.name}<-{syn.source}")
    if syn.weight_exp != 0:
        raise UnsupportedError(f"layer {layer.name!r}: Lava's Conv model ignores weight_exp "
                                 f"({syn.weight_exp} from {syn.source!r})")
    weight, groups = fit_groups(syn.weight, syn.groups)
    return Conv(weight=conv_weight(weight).astype(np.int32), input_shape=lava_shape(source_shape),
                padding=syn.padding[::-1], stride=syn.stride[::-1], dilation=syn.dilation[::-1],
                groups=groups, num_message_bits=bits, name=f"{layer.name}<-{syn.source}")


@dataclass
class LavaGraph:
    """The built processes: `source` drives everything; `extractors` pass on the recorded layers' spikes."""

    net: Network
    source: Source
    neurons: dict[str, LIFReset]
    extractors: dict[str, Extractor]
    samples: int
    processes: list[AbstractProcess] = field(default_factory=list)
    received: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def collect(self) -> None:
        """Take one sample's P steps out of every extractor (call after each sample's run)."""
        for name, extractor in self.extractors.items():
            self.received.setdefault(name, []).extend(extractor.receive()
                                                      for _ in range(self.net.steps_per_sample()))

    def read(self) -> dict[str, np.ndarray]:
        """Collected spikes per layer, (N, *IR shape, P) int8, each latency window masked (see module)."""
        steps = self.net.steps_per_sample()
        out = {}
        for name, frames in self.received.items():
            samples = len(frames) // steps
            spikes = stream_to_samples(np.stack(frames, axis=-1), self.net.shape_of(name), samples, steps)
            spikes = spikes.astype(np.int8)
            spikes[..., : min(self.net.latency(name), steps)] = 0
            out[name] = spikes
        return out


def _source_port(ports: dict[str, OutPort], shapes: dict[str, tuple[int, ...]], syn: Synapse,
                 processes: list[AbstractProcess]) -> OutPort:
    """The port a synapse reads: through a SpikeDelay if the IR asks, flattened for dense-from-spatial."""
    port = ports[syn.source]
    if syn.delay:
        line = SpikeDelay(shape=lava_shape(shapes[syn.source]), delay=syn.delay)
        port.connect(line.s_in)
        processes.append(line)
        port = line.s_out
    if syn.kind == "dense" and len(shapes[syn.source]) == 3:
        port = port.transpose([2, 1, 0]).flatten()
    return port


def build_graph(net: Network, frames: np.ndarray, *, floating: bool = False,
                record: Iterable[str] | None = None) -> LavaGraph:
    """Processes for `net` fed with graded `frames` (N, C, H, W, T) back to back; `record` = layers
    to record (default: every layer)."""
    net.validate()
    if net.timing == "stream":
        raise UnsupportedError(f"{net.name}: a free-running (netx) network; run it with "
                                 "tmkt_deploy.lava.stream.run_stream_lava")
    frames = np.asarray(frames)
    if frames.shape[1:] != (*net.input_shape, net.time_steps):
        raise ValueError(f"frames must be (N, {', '.join(map(str, net.input_shape))}, {net.time_steps}); "
                         f"got {frames.shape}")
    samples, steps = frames.shape[0], net.steps_per_sample()
    source = Source(data=frames_to_stream(frames, steps).astype(float if floating else np.int32))
    ports: dict[str, OutPort] = {INPUT: source.s_out}
    shapes = {INPUT: tuple(net.input_shape)}
    processes: list[AbstractProcess] = [source]
    neurons: dict[str, LIFReset] = {}
    for layer in net.layers:
        try:
            params = lava_lif_args(lif_params(layer.neuron, layer.name), floating)
        except ValueError as exc:
            raise UnsupportedError(str(exc)) from None
        lif = LIFReset(shape=lava_shape(layer.shape), reset_interval=steps,
                       reset_offset=(net.latency(layer.name) + 1) % steps, name=layer.name, **params)
        for syn in layer.synapses:
            conn = connection(syn, shapes[syn.source], layer, graded=syn.source == INPUT)
            _source_port(ports, shapes, syn, processes).connect(conn.s_in)
            conn.a_out.connect(lif.a_in)  # several synapses: Lava's InPort sums them (one a_in)
            processes.append(conn)
        ports[layer.name], shapes[layer.name], neurons[layer.name] = lif.s_out, layer.shape, lif
        processes.append(lif)
    extractors = {}
    for name in ([lay.name for lay in net.layers] if record is None else list(record)):
        extractors[name] = Extractor(shape=lava_shape(net.shape_of(name)), buffer_size=steps)
        ports[name].connect(extractors[name].in_port)
        processes.append(extractors[name])
    return LavaGraph(net=net, source=source, neurons=neurons, extractors=extractors, samples=samples,
                     processes=processes)
