"""Run an integer IR on a batch of samples, layer by layer, exactly as the Lava fixed_pt graph runs it.

Our own code (no library runs Lava's fixed-point processes batched). The Lava graph (`tmkt_deploy.lava`)
streams samples back to back, P = T + L steps each (T frames, then L = output-latency empty steps that flush
the pipeline), and resets a layer of latency l to zero state at step l of every sample, the step its first
input of that sample arrives. So each layer computes, per sample, one P-step *window* starting at its own
latency, from zero state, and inside windows a synapse source → target needs no time shift at all: a source
spike at step t reaches the target at t + 1 + delay, and the IR lines every target's inputs up so that
latency(target) = latency(source) + 1 + delay. A window-timed IR has no recurrence (`Network.validate`), so
each layer is computed for all P steps at once: its synapses run over every frame of their sources' windows in
one conv/matmul (time folded into the batch), then its LIF registers are stepped through the window in one
fused kernel (on CPU numba's, `lif_kernel`; on a GPU Triton's, `lif_triton`, or step by step in torch,
`neuron`, where Lava's int32 wraps could matter). On a GPU convs are one im2col GEMM per chunk
(`synapse.gemm_conv`) and batches are sized from its free memory, so a whole test set runs in one or a few
batches. Spatial layers' currents and spikes live in channels-last memory (H, W, C: the layout oneDNN's convs
read and write without reordering) behind PyTorch's logical (C, H, W) shape, and spikes are 0/1 (on CPU
uint8, what oneDNN's int8 convs read, or float32 where those are missing: the type the next conv sums in).

Layout of the results: like `lava.simulate`, each layer's spikes on the sample's own P steps, masked
(zero) before the layer's latency (there Lava shows the previous sample's tail); a layer's last `latency`
window steps fall into the next sample's P steps and count in `spike_counts` only.

A stream-timed IR (an imported netx network: free-running, recurrence allowed) runs in `stream.StreamRunner`
instead, on the input's own steps.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import numpy as np
import torch

from tmkt_common.cli import progress as progress_bar
from tmkt_common.device import free_gpu_bytes, pick_device

from ..check.digest import steps_first, window_digests
from ..ir import INPUT, Layer, Network
from ..loihi_params import ACT_SHIFT, UV_LIMIT, LifParams, lif_params
from .layout import logical, neuron_major
from .neuron import LifState, wrap
from .stream import StreamRunner, check_stream_inputs, largest
from .synapse import CPU_INT8, FLOAT32_EXACT, SynapseOp, exact_kernels

# Default batch size: as many samples as keep the widest layer's float32 input currents under this many bytes.
# Measured with the int8 ops and 1-byte spikes (2-core EPYC, 2 threads, 48x48, T=10): SCNN 3 samples a batch
# 867-919 samples/s, 7: 967-1,090, 14: 997-1,088; VGGSNN width 0.25 1: 90-100, 2-3: 105-111; ResNet-18 width
# 0.25 1: 57-64, 3: 61-64, 7: 64-69. (With float32 spikes and convs, 8 MB batches had been the fastest.)
BATCH_BYTES = 1 << 25
# A CPU worker thread that got less than this share of a core while it ran a batch stops taking batches
# (`in_threads`): the box has no free core for it.
MIN_CORE_SHARE = 0.75
T, R = TypeVar("T"), TypeVar("R")
# On a GPU, batches use this share of the free memory (the rest: conv chunk buffers, allocator slack).
GPU_MEMORY_SHARE = 0.5
# The input window's graded frames are float32 (payloads of up to 24 bits, all exact): the type the float
# synapses sum in (the int8 ones take them as bytes).
SPIKE_DTYPE = torch.float32
# Spikes the CPU's LIF kernel writes: 1-byte 0/1 where convs read them as oneDNN int8 inputs (see `synapse`),
# else float32, the type the float convs sum in (either saves the next synapse a conversion pass).
CPU_SPIKES = np.uint8 if CPU_INT8 else np.float32
# Largest |a_in| for which `a_in << 6` plus a 24-bit current cannot overflow Lava's int32 arithmetic.
INT32_SAFE_INPUT = 1 << (24 - ACT_SHIFT)


@dataclass
class EmulatorResult:
    """Spikes of one emulation, numpy on the CPU, time last, on each sample's `time_steps` = P = T + L steps.

    `output_spikes` (N, K, P) and `layer_spikes[name]` (N, *shape, P) are laid out as `lava.simulate` returns
    spikes: zero before the layer's latency. `spike_counts[name]` ((N,) int64) counts the layer's whole P-step
    window (its work per sample on the chip, tail included); `spike_counts["input"]` counts nonzero graded
    input events. `layer_digests[name]` ((N,) int64 `check.digest` digests of every layer's spikes in that
    layout, computed on the device) when asked for. For exact energy counts, per neuron (shaped like the
    layer, int64, summed over all N samples): `window_spikes` over the whole P-step window, `frame_spikes`
    over its first T steps (the steps that answer the sample's own frames: the streaming schedule's work);
    `changed[name]` (N, P) counts the layer's neurons whose state changed (a spike, or `u`/`v` moved) at each
    window step. These are summed on the device, so only (neurons,) and (N, P) arrays reach the host. A
    stream-timed (netx) network runs its S steps with no flush: with `activity`, `window_spikes` =
    `frame_spikes` = per-neuron messages (nonzero outputs, graded ones included); its `changed` stays empty
    (not measured: sigma-delta and recurrent layers have other state).
    """

    output_spikes: np.ndarray
    spike_counts: dict[str, np.ndarray]
    time_steps: int
    latency: int
    layer_spikes: dict[str, np.ndarray] = field(default_factory=dict)
    layer_digests: dict[str, np.ndarray] = field(default_factory=dict)
    window_spikes: dict[str, np.ndarray] = field(default_factory=dict)
    frame_spikes: dict[str, np.ndarray] = field(default_factory=dict)
    changed: dict[str, np.ndarray] = field(default_factory=dict)


def emulate(net: Network, inputs: np.ndarray | torch.Tensor, *, record: bool | Iterable[str] = False,
            digests: bool = False, activity: bool = False, device: str | torch.device = "cpu",
            batch_size: int | None = None, progress: bool = False,
            runner: WindowRunner | None = None) -> EmulatorResult:
    """Emulate Lava's fixed_pt simulation of `net` on graded-spike `inputs` (N, C, H, W, T), sample-parallel.

    `record`: True for every layer's spikes, or the names of the layers to keep. `digests`: a digest per
    sample of every layer's spikes (what a spike check compares; whole records of a test set would not fit
    in host memory). `activity`: the per-neuron spike sums and changed-state counts the energy report reads
    (`window_spikes`, `frame_spikes`, `changed`; off by default: ~8 % of the CPU emulation of SCNN).
    `device`: cpu, cuda or auto. `batch_size`: samples per pass (default: on CPU from a
    cache budget, on a GPU from its free memory). Results are identical for any batch size and device.
    `runner`: a `WindowRunner` built for `net` (it then sets the device), to convert the weights once for many
    calls.

    On CPU, batches run side by side in up to `torch.get_num_threads()` threads (`in_threads`), each torch op
    single-threaded: on a small machine shared with other work, the OpenMP barrier inside every multi-threaded
    op waits for a descheduled thread (measured: 2-core box under load, 7x slower), while whole batches per
    thread need no barrier and keep each batch in one core's cache. A thread that the box leaves without a
    core of its own stops taking batches (see `in_threads`). torch's intra-op setting is 1 for the whole call
    (input checks included), set once: each change rebuilds OpenMP's team (~3 ms), and the first op on a new
    two-thread team took 18 ms on the busy 2-core box (measured), a third of a 64-sample netx call.
    """
    dev = runner.device if runner is not None else \
        device if isinstance(device, torch.device) else pick_device(device)
    threads = torch.get_num_threads() if dev.type == "cpu" else 1  # batches side by side
    with _intra_op_threads(1 if dev.type == "cpu" else torch.get_num_threads()):
        if net.timing == "stream":
            return _emulate_stream(net, inputs, record, activity, dev, batch_size, threads)
        return _emulate_windows(net, inputs, record, digests, activity, batch_size, progress,
                                runner or WindowRunner(net, dev), threads)


def _emulate_windows(net: Network, inputs: np.ndarray | torch.Tensor, record: bool | Iterable[str],
                     digests: bool, activity: bool, batch_size: int | None, progress: bool,
                     runner: WindowRunner, threads: int) -> EmulatorResult:
    """`emulate` of a window-timed IR, in the caller's intra-op setting, batches in up to `threads`
    threads."""
    if runner.net is not net:
        raise ValueError(f"emulate: the runner was built for network {runner.net.name!r}, not {net.name!r}")
    dev = runner.device
    frames = _check_inputs(net, inputs)
    recorded = _recorded_layers(net, record)
    steps = net.steps_per_sample(frames.shape[-1])
    batch = batch_size or _default_batch(net, steps, dev)

    def run(start: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], dict]:
        """One batch → its spike counts, its spikes in `simulate`'s layout (the output and `record`), its
        digests (`digests`) and its per-neuron energy counts: digests computed and energy counts summed on
        the device, then all moved to the host together (`to_host`: one copy per dtype, not one per array)."""
        windows = runner(frames[start:start + batch].to(dev), sums=activity)
        out = {("count", name): window.counts for name, window in windows.items()}
        out.update({("kept", name): _simulate_layout(net, name, windows[name].spikes)
                    for name in {*recorded, net.output}})
        if digests:
            out.update({("digest", lay.name): _digests(net, lay.name, windows[lay.name].spikes)
                        for lay in net.layers})
        if activity:
            out.update(_energy_counts(windows, frames.shape[-1]))
        host = to_host(out)
        part = {kind: {name: value for (k, name), value in host.items() if k == kind}
                for kind in ("count", "kept", "digest", "window", "frame", "changed")}
        return part["count"], part["kept"], part["digest"], \
            {kind: part[kind] for kind in ("window", "frame", "changed")}

    starts = range(0, len(frames), batch)
    with exact_kernels(), progress_bar(enabled=progress) as bar:
        task = bar.add_task(f"emulating {net.name}", total=len(starts))
        done = in_threads(run, starts, threads, lambda: bar.advance(task))
    output = np.concatenate([spikes[net.output] for _, spikes, _, _ in done])
    energy = [e for _, _, _, e in done]
    return EmulatorResult(
        output_spikes=output.reshape(len(output), -1, steps),
        spike_counts={name: np.concatenate([counts[name] for counts, _, _, _ in done]).astype(np.int64)
                      for name in done[0][0]},
        time_steps=steps,
        latency=net.latency(),
        layer_spikes={name: np.concatenate([spikes[name] for _, spikes, _, _ in done]) for name in recorded},
        layer_digests={name: np.concatenate([d[name] for _, _, d, _ in done]) for name in done[0][2]},
        window_spikes={name: sum(e["window"][name] for e in energy) for name in energy[0]["window"]},
        frame_spikes={name: sum(e["frame"][name] for e in energy) for name in energy[0]["frame"]},
        changed={name: np.concatenate([e["changed"][name] for e in energy]) for name in energy[0]["changed"]},
    )


def to_host(tensors: dict[T, torch.Tensor]) -> dict[T, np.ndarray]:
    """Tensors on one device → numpy arrays of their shapes. From a GPU, those of one dtype are flattened
    into one buffer and copied together: one device-to-host copy (and wait) per dtype, not one per array."""
    if not tensors or next(iter(tensors.values())).device.type == "cpu":
        return {key: value.numpy() for key, value in tensors.items()}
    out: dict[T, np.ndarray] = {}
    for dtype in {value.dtype for value in tensors.values()}:
        keys = [key for key, value in tensors.items() if value.dtype == dtype]
        flat = torch.cat([tensors[key].reshape(-1) for key in keys]).cpu().numpy()
        for key, part in zip(keys, np.split(flat, np.cumsum([tensors[k].numel() for k in keys])[:-1]),
                             strict=True):
            out[key] = part.reshape(tensors[key].shape)
    return out


def _energy_counts(windows: dict[str, LayerWindow], time_steps: int) -> dict[tuple[str, str], torch.Tensor]:
    """Per-neuron spikes summed over a batch's samples, over the whole window ("window") and its first
    `time_steps` steps ("frame") (int64, shaped like the layer); changed-state counts per sample and step
    ("changed"); on the device, keyed by (kind, layer)."""
    out = {}
    for name, w in windows.items():
        both = _neuron_sums(w.spikes != 0 if name == INPUT else w.spikes, time_steps) if w.sums is None \
            else torch.stack(w.sums)  # input: events; the fused kernel counted them on the way
        both = logical(both.view(1, 2, -1), tuple(w.spikes.shape[2:]))[0]  # the layer's shape
        out["window", name], out["frame", name] = both[0], both[1]
        if w.changed is not None:
            out["changed", name] = w.changed.to(torch.int64)
    return out


def _neuron_sums(spikes: torch.Tensor, time_steps: int) -> torch.Tensor:
    """0/1 spikes (n, P, *shape) summed per neuron over the batch, over all P steps and over the first
    `time_steps`: (2, neurons) int64 in memory order. Read in memory order (n·P rows of neurons): float
    spikes in one GEMM with two 0/1 step masks (exact: sums of ones far below 2**24; torch's sum over a step
    slice of the window ran 20x slower on CPU, measured), bool ones (torch's LIF steps) per step first."""
    rows = steps_first(spikes)
    n, steps, neurons = rows.shape
    if rows.dtype == torch.uint8:  # the CPU's spikes: the float GEMM is still the fast way to sum them
        rows = rows.to(torch.float32)
    if rows.is_floating_point():
        masks = torch.zeros(2, n, steps, dtype=rows.dtype, device=rows.device)
        masks[0] = 1
        masks[1, :, :time_steps] = 1
        return (masks.view(2, -1) @ rows.reshape(-1, neurons)).to(torch.int64)
    per_step = rows.sum(dim=0)
    return torch.stack([per_step.sum(dim=0), per_step[:time_steps].sum(dim=0)])


def _emulate_stream(net: Network, inputs: np.ndarray | torch.Tensor, record: bool | Iterable[str],
                    activity: bool, dev: torch.device, batch_size: int | None,
                    threads: int) -> EmulatorResult:
    """A netx network's free run (`stream.StreamRunner`): outputs on the input's own S steps, values as sent
    (0/1 spikes, graded payloads); counts are messages (nonzero outputs) per sample, and with `activity` per
    neuron. The batches run in up to `threads` threads (`in_threads`), in the caller's intra-op setting."""
    frames = check_stream_inputs(net, inputs)
    recorded = _recorded_layers(net, record)
    runner = StreamRunner(net, dev)
    kept = {*recorded, net.output}

    def run(part: torch.Tensor) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        outputs = runner(part.to(dev))
        counts = {name: fired.counts.cpu().numpy().astype(np.int64) for name, fired in outputs.items()}
        values = {name: runner.logical(name, outputs[name].values).movedim(1, -1).cpu().numpy()
                  .astype(np.int64) for name in kept}
        messages = {name: runner.messages(name, fired).cpu().numpy().astype(np.int64)
                    for name, fired in outputs.items()} if activity else {}
        return counts, values, messages

    batch = batch_size or _default_batch(net, frames.shape[-1], dev)
    workers = max(1, min(len(frames), threads, 1 + spare_cores()))  # smaller parts only to share them
    rounds = -(-len(frames) // (batch * workers))  # equal parts, a whole number per thread
    parts = torch.tensor_split(frames, workers * rounds)
    with exact_kernels():
        done = in_threads(run, parts, workers)
    output = np.concatenate([spikes[net.output] for _, spikes, _ in done])
    messages = {name: sum(m[name] for _, _, m in done) for name in done[0][2]}
    return EmulatorResult(
        output_spikes=output.reshape(len(output), -1, output.shape[-1]),
        spike_counts={name: np.concatenate([counts[name] for counts, _, _ in done]) for name in done[0][0]},
        time_steps=frames.shape[-1], latency=net.latency(),
        layer_spikes={name: np.concatenate([spikes[name] for _, spikes, _ in done]) for name in recorded},
        window_spikes=messages, frame_spikes=messages)


def in_threads(run: Callable[[T], R], items: Sequence[T], threads: int,
               advance: Callable[[], None] = lambda: None) -> list[R]:
    """`[run(item) for item in items]` in this thread and up to `threads - 1` helper threads (CPU work, the
    caller holding torch's intra-op setting at 1). `advance` is called after each item.

    Helpers start only on cores that nothing else runs on (`spare_cores`), threads take the next item as they
    finish one, and a helper that got less than `MIN_CORE_SHARE` of a core while running an item stops: on a
    box whose other work leaves this process one core or less (a shared box; Linux's autogroups give each
    session an equal share however many threads it runs), a second thread only time-slices that core with
    the first, thrashing its cache, and made the emulator 10–45 % slower than one thread (2-core box, load
    2–4, measured), while with a core to spare it is 1.2–1.9x faster (SCNN, VGGSNN, netx nets).
    The helpers live as long as the process: fresh threads got fresh malloc arenas, whose page faults took a
    third of a short call's time (measured). Our own: the standard pools have no such rule. Results come
    back in the order of `items` whichever thread ran them."""
    helpers = min(len(items) - 1, threads - 1, spare_cores())
    if helpers <= 0:
        return [_advanced(run(item), advance) for item in items]
    results: list = [None] * len(items)
    lock, queue = threading.Lock(), iter(range(len(items)))

    def work(helper: bool) -> None:
        while True:
            with lock:
                index = next(queue, None)
            if index is None:
                return
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                results[index] = run(items[index])
            except BaseException:
                with lock:  # the others stop taking items; the caller gets this error
                    for _ in queue:
                        pass
                raise
            advance()
            if helper and time.thread_time() - cpu < MIN_CORE_SHARE * (time.perf_counter() - wall):
                return

    futures = [_helper_pool(helpers).submit(work, True) for _ in range(helpers)]
    try:
        work(False)
    finally:
        for future in futures:
            future.exception()  # wait for each (raised below, after this thread's own error if any)
    for future in futures:
        future.result()
    return results


def spare_cores() -> int:
    """Cores of this process's affinity that neither this thread nor any other running thread occupies right
    now: from the kernel's count of running threads (`/proc/loadavg`, which counts this one; Linux), else
    all but this thread's."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        running = 1
    return max(0, cores - max(running, 1))


_HELPERS: dict[int, ThreadPoolExecutor] = {}


def _helper_pool(threads: int) -> ThreadPoolExecutor:
    """The process's pool of `threads` `in_threads` helpers (rebuilt when that number changes)."""
    if threads not in _HELPERS:
        for pool in _HELPERS.values():
            pool.shutdown(wait=False)
        _HELPERS.clear()
        _HELPERS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="emulate")
    return _HELPERS[threads]


def _advanced(result: R, advance: Callable[[], None]) -> R:
    advance()
    return result


@contextmanager
def _intra_op_threads(threads: int) -> Iterator[None]:
    """torch's intra-op thread count for the duration (the process-wide setting, restored after)."""
    saved = torch.get_num_threads()
    if saved == threads:  # a change, even back and forth, rebuilds OpenMP's team
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@dataclass
class LayerWindow:
    """One layer's window for a batch: spikes (n, steps, *shape), spikes per sample (n,) and, for neuron
    layers, neurons whose state changed per sample and step (n, P). A layer's window has all P steps; the
    input's only its T frames (the rest of its P steps are empty, so synapses from it skip them and its
    targets' currents are zero there). `sums`: spikes per neuron (memory order) over the batch, all steps
    and the frames' steps, where the fused kernel counted them."""

    spikes: torch.Tensor
    counts: torch.Tensor
    changed: torch.Tensor | None = None
    sums: tuple[torch.Tensor, torch.Tensor] | None = None

    def frames(self) -> torch.Tensor:
        """The window's frames (n · steps, *shape), a view in its memory order."""
        return self.spikes.flatten(0, 1)


class WindowRunner:
    """The per-sample windows of every layer for batches of graded frames, with the IR's ops built once."""

    def __init__(self, net: Network, device: torch.device) -> None:
        net.validate()
        self.net, self.device = net, device
        self.ops = {lay.name: [SynapseOp.build(syn, lay.name, device) for syn in lay.synapses]
                    for lay in net.layers}
        self.params = {lay.name: lif_params(lay.neuron, lay.name) for lay in net.layers}

    def __call__(self, frames: torch.Tensor, sums: bool = False) -> dict[str, LayerWindow]:
        """Frames (n, C, H, W, T) → {"input" and each layer name: its window}. `sums`: per-neuron spike sums
        from the fused GPU kernel where it runs (`LayerWindow.sums`)."""
        net, (n, time_steps) = self.net, (len(frames), frames.shape[-1])
        steps = net.steps_per_sample(time_steps)
        channels, height, width = net.input_shape
        source = frames.new_empty(n, time_steps, height, width, channels, dtype=SPIKE_DTYPE)
        source.copy_(frames.permute(0, 4, 2, 3, 1))
        events = frames.reshape(n, -1).count_nonzero(dim=1)
        windows = {INPUT: LayerWindow(source.permute(0, 1, 4, 2, 3), events)}
        max_spike = {INPUT: int(frames.max()) if frames.numel() else 0}
        for layer in net.layers:
            bound = sum(op.bound(max_spike[op.syn.source]) for op in self.ops[layer.name])
            a_in = neuron_major(self._layer_input(layer, windows, max_spike, bound))
            a_in = a_in.view(n, -1, layer.num_neurons)
            spikes, counts, changed, neuron_sums = self._fire(self.params[layer.name], a_in, bound, steps,
                                                              time_steps if sums else None)
            windows[layer.name] = LayerWindow(logical(spikes, layer.shape), counts, changed, sums=neuron_sums)
            max_spike[layer.name] = 1
        return windows

    def _layer_input(self, layer: Layer, windows: dict[str, LayerWindow], max_spike: dict[str, int],
                     bound: int) -> torch.Tensor:
        """The layer's a_in (n · S, *shape) for the first S steps of its windows, S the most steps of its
        sources' windows (later ones get no input), |a_in| <= `bound`: its synapses summed as Lava's InPort
        sums them (int32)."""
        ops = self.ops[layer.name]
        sources = [windows[op.syn.source] for op in ops]  # shapes agree: the runner validated the IR
        n, live = len(sources[0].spikes), max(window.spikes.shape[1] for window in sources)
        inputs = [_zero_steps(op.currents(window.frames(), max_spike[op.syn.source]), n, live)
                  .view(-1, *layer.shape) for op, window in zip(ops, sources, strict=True)]
        if len(inputs) == 1:
            return inputs[0]
        # exact in float32 below its limit; the ops' results are fresh tensors, ours to add into
        total = inputs[0].to(torch.float32 if bound < FLOAT32_EXACT else torch.float64)
        for current in inputs[1:]:
            total += current
        return total if bound < 1 << 31 else wrap(total, 32)

    @staticmethod
    def _fire(params: LifParams, a_in: torch.Tensor, bound: int, steps: int, frames: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """Spikes (n, P, neurons), spikes per sample and changed-state neurons per sample and step (n, P) of a
        layer over its P = `steps` window for its inputs (n, S, neurons) of the first S steps (none after
        them), |a_in| <= `bound`: the fused numba kernel on CPU (reading the S steps as they are); else, on
        inputs padded with zeros to P steps: on a GPU the fused Triton kernel where the inputs are int32-safe
        (see `LifState`: by the bound, else by the inputs' range), which with `frames` (the T of P steps)
        also sums spikes per neuron (else None); else (or without numba / Triton) torch step by step, with
        Lava's int32 wraps. All three count changed states exactly alike (the tests compare them)."""
        cpu_kernel = _kernel("lif_kernel") if a_in.device.type == "cpu" else None
        if cpu_kernel is not None:
            window = cpu_kernel.lif_window(params, a_in.numpy(), spike_dtype=CPU_SPIKES, steps=steps)
            return torch.from_numpy(window.spikes), torch.from_numpy(window.counts), \
                torch.from_numpy(window.changed), None
        n, live, neurons = a_in.shape
        a_in = _zero_steps(a_in.reshape(n * live, neurons), n, steps).view(n, steps, neurons)
        int32_safe = bound <= INT32_SAFE_INPUT or not a_in.numel()
        if not int32_safe:  # the bound is loose: look at the inputs (a pass over them, and a sync)
            int32_safe = largest(a_in) <= INT32_SAFE_INPUT
        fused = _kernel("lif_triton") if triton_runs_on(a_in.device) and int32_safe else None
        if fused is not None and abs(params.effective_bias) < UV_LIMIT:
            window = fused.lif_window(params, a_in, frames=frames)
            return window.spikes.view(torch.bool), window.counts, window.changed, window.sums
        return (*lif_steps(params, a_in, int32_safe), None)


def _zero_steps(currents: torch.Tensor, n: int, steps: int) -> torch.Tensor:
    """Currents of the first `len(currents) / n` steps of `n` windows (n · live, *shape) → (n · steps, *shape)
    with zeros after them, in the same memory format (nothing to do when all steps are there)."""
    live = len(currents) // n
    if live == steps:
        return currents
    layout = torch.channels_last if currents.ndim == 4 else torch.contiguous_format
    full = torch.empty((n * steps, *currents.shape[1:]), dtype=currents.dtype, device=currents.device,
                       memory_format=layout)
    windows = full.view(n, steps, *currents.shape[1:])
    windows[:, :live] = currents.view(n, live, *currents.shape[1:])
    windows[:, live:].zero_()  # each value written once
    return full


def lif_steps(params: LifParams, a_in: torch.Tensor,
              int32_safe: bool | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`WindowRunner._fire` in torch, step by step (any device): spikes, spikes per sample, changed-state
    neurons per sample and step. `int32_safe`: whether Lava's wraps can be skipped (default: checked here)."""
    if int32_safe is None:
        int32_safe = bool(a_in.abs().max() <= INT32_SAFE_INPUT) if a_in.numel() else True
    state = LifState(params, a_in.shape[0], a_in.shape[2], a_in.device, int32_safe)
    spikes, changed = [], []
    for t in range(a_in.shape[1]):
        u, v = state.u, state.v  # `step` replaces the registers, never writes into them
        fired = state.step(a_in[:, t])
        spikes.append(fired)
        changed.append((fired | (state.u != u) | (state.v != v)).sum(dim=1))
    spikes = torch.stack(spikes, dim=1)
    return spikes, spikes.flatten(1).sum(dim=1), torch.stack(changed, dim=1)


def triton_runs_on(device: torch.device) -> bool:
    """Triton kernels run on CUDA tensors, and on CPU ones in Triton's interpreter (`TRITON_INTERPRET=1`,
    which the tests use to run the GPU path here)."""
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


def _kernel(name: str) -> ModuleType | None:
    """A fused LIF kernel module (`lif_kernel`: numba, CPU; `lif_triton`: Triton, GPU), or None where its
    compiler is not installed (a GPU box may lack numba, a CPU box Triton): imported only where it runs."""
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError:
        return None


def _simulate_layout(net: Network, name: str, window: torch.Tensor) -> torch.Tensor:
    """A layer's window (n, P, *shape) → the sample's own steps (n, *shape, P) uint8 (a view, on the
    window's device), zero before the latency."""
    latency = net.latency(name)
    out = torch.zeros_like(window, dtype=torch.uint8)
    out[:, latency:] = window[:, :window.shape[1] - latency]
    return out.movedim(1, -1)


def _digests(net: Network, name: str, window: torch.Tensor) -> torch.Tensor:
    """`check.digest` digests (n,) of a layer's window (n, P, *shape) as `simulate` lays it out (shifted by
    the latency), hashed on the window's device from its memory order without a copy."""
    latency = net.latency(name)
    return window_digests(steps_first(window)[:, :window.shape[1] - latency], latency)


def _check_inputs(net: Network, inputs: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Integer graded spikes (N, C, H, W, T) within `input_bits`, as a tensor of the caller's dtype (batches
    are copied into float32 frames anyway)."""
    x = torch.as_tensor(inputs)
    if x.ndim != 5 or tuple(x.shape[1:4]) != tuple(net.input_shape):
        raise ValueError(f"emulator inputs must be (N, C, H, W, T) with C, H, W = {tuple(net.input_shape)}; "
                         f"got shape {tuple(x.shape)}")
    if x.is_floating_point():
        if not torch.equal(x, x.round()):
            raise ValueError("emulator inputs must be integer graded spikes; got non-integer values")
    elif x.dtype == torch.bool or x.is_complex():
        raise ValueError(f"emulator inputs must be integer graded spikes; got dtype {x.dtype}")
    top = (1 << net.input_bits) - 1
    if x.numel() and (x.min() < 0 or x.max() > top):
        raise ValueError(f"emulator inputs must lie in 0..{top} ({net.input_bits}-bit graded spikes); "
                         f"got {int(x.min())}..{int(x.max())}")
    return x


def _recorded_layers(net: Network, record: bool | Iterable[str]) -> set[str]:
    names = [layer.name for layer in net.layers]
    if isinstance(record, bool):
        return set(names) if record else set()
    unknown = sorted(set(record) - set(names))
    if unknown:
        raise ValueError(f"record: IR has no layer(s) {unknown}; layers: {names}")
    return set(record)


def _default_batch(net: Network, steps: int, device: torch.device) -> int:
    """On CPU: a cache budget (`BATCH_BYTES`). On a GPU: as many samples as fit in `GPU_MEMORY_SHARE` of
    its free memory, by `gpu_bytes_per_sample`."""
    widest = max(layer.num_neurons for layer in net.layers)
    if device.type == "cpu":
        return max(1, BATCH_BYTES // (4 * steps * widest))
    return max(1, int(free_gpu_bytes(device) * GPU_MEMORY_SHARE) // gpu_bytes_per_sample(net, steps))


def gpu_bytes_per_sample(net: Network, steps: int) -> int:
    """Peak GPU memory one sample of a batch needs (a generous estimate): every layer's spike window kept
    (bool) and shifted into the record layout (uint8); the widest layer's float32 currents twice (conv
    result, concatenation), its spikes, and the torch LIF's float64 registers and temporaries (where the
    fused kernel cannot run). Conv chunk buffers are bounded by `synapse.CHUNK_ELEMENTS`."""
    widest = max(layer.num_neurons for layer in net.layers)
    all_neurons = sum(layer.num_neurons for layer in net.layers) + int(np.prod(net.input_shape)) * 4
    return steps * (2 * all_neurons + 12 * widest) + 96 * widest
