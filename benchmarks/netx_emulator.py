"""lava-dl netx networks: our batched emulator vs Lava's fixed_pt run of the same file, same process.

Three networks built from lava-dl's own blocks (seeded random weights, one forward pass, `export_hdf5`):
- `sdnn-conv`: sigma-delta Conv(2→8, s2) → Conv(8→16, s2) → Flatten → Dense(→32) → Output(→10), graded input;
  the baseline is netx's own `hdf5.Network` in Lava;
- `cuba-input-conv`: CUBA Input layer with neurons (scale, bias) → Conv(2→8, s2) → Conv(8→16, s2) → Flatten →
  Dense(→10), binary input; netx's Lava graph of an Input block with neurons does not compile in lava-nc 0.10
  (its input port is left unconnected), so the baseline is our Lava graph of the same IR
  (`tmkt_deploy.lava.stream`: the processes netx builds, plus the input scale as a 1x1 Conv);
- `cuba-conv`: the same without the Input block, against netx's own `hdf5.Network` (the like-for-like check
  of that baseline).

Lava: `--lava-samples` samples streamed back to back (netx runs freely, so a stream of k samples is one run
of k*S steps); step 1, which compiles and starts the graph, runs alone and untimed, then each sample's S steps
are one timed `run` call, and the fastest sample counts. Emulator: all `--samples` samples (one random draw;
Lava's are its first k) in one `emulate(..., activity=True)` call as `report --netx` makes it (per-neuron
message counts included; CPU, batches in parallel threads), the fastest of `--repeats` calls after a warm-up
call, divided by the samples. Best-of on both sides: on a shared box it filters out the moments another job
held the cores. Both use the whole box (Lava: an OS process per Lava process; the emulator: up to
`torch.get_num_threads()` threads, those beyond the first only on cores nothing else runs on). Prints
seconds per sample, the speed-up, and whether the emulator's output equals Lava's on Lava's first sample
(every step, every value; later samples continue Lava's free run from the previous sample's state);
exits 1 where it does not.

    python benchmarks/netx_emulator.py                      # 2x48x48 input, S=16 steps, 64 samples, 4 in Lava
    python benchmarks/netx_emulator.py --size 32 --steps 20 --samples 128
    python benchmarks/netx_emulator.py --threads 1                         # one core (a busy shared box)
    python benchmarks/netx_emulator.py --device cuda --samples 1024        # the CUDA emulator
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
import typer
from rich.table import Table

from tmkt_common.cli import make_console
from tmkt_deploy.emulator import emulate
from tmkt_deploy.interop.netx_import import NetxOptions, read_netx

app = typer.Typer(add_completion=False)
CUBA = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.1, "requires_grad": False}
SDNN = {"threshold": 0.1, "activation": torch.nn.functional.relu}


def export(blocks: list[torch.nn.Module], x: torch.Tensor, path: Path) -> Path:
    """lava-dl's export_hdf5 after one forward pass (the tests' helper, one copy)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import support

    support.run_and_export_netx(blocks, x, path)
    return path


def sdnn_conv(size: int, steps: int, folder: Path) -> Path:
    from lava.lib.dl import slayer

    sd = slayer.block.sigma_delta
    side = (size + 1) // 2
    side = (side + 1) // 2
    blocks = [sd.Conv(SDNN, 2, 8, 3, padding=1, stride=2, weight_scale=2),
              sd.Conv(SDNN, 8, 16, 3, padding=1, stride=2, weight_scale=2), sd.Flatten(),
              sd.Dense(SDNN, 16 * side * side, 32, weight_scale=2), sd.Output(SDNN, 32, 10, weight_scale=2)]
    return export(blocks, torch.rand(1, 2, size, size, steps), folder / "sdnn-conv.net")


def cuba_conv(size: int, steps: int, folder: Path, input_layer: bool) -> Path:
    """The CUBA conv net, with or without an Input block with neurons (scale 2, bias) in front."""
    from lava.lib.dl import slayer

    cu = slayer.block.cuba
    side = (size + 1) // 2
    side = (side + 1) // 2
    blocks = [cu.Conv(CUBA, 2, 8, 3, padding=1, stride=2, weight_scale=3),
              cu.Conv(CUBA, 8, 16, 3, padding=1, stride=2, weight_scale=3), cu.Flatten(),
              cu.Dense(CUBA, 16 * side * side, 10, weight_scale=3)]
    if input_layer:
        blocks.insert(0, cu.Input(CUBA, weight=2, bias=0.25))
    path = export(blocks, torch.rand(1, 2, size, size, steps),
                  folder / ("cuba-input-conv.net" if input_layer else "cuba-conv.net"))
    if input_layer:
        with h5py.File(path, "a") as f:  # SLAYER's Input block writes its shape only when it saw one
            if "shape" not in f["layer/0"]:
                f["layer/0"].create_dataset("shape", data=np.array([2, size, size]))
    return path


def timed_lava(source, sinks: dict, steps: int, samples: int) -> tuple[float, dict[str, np.ndarray]]:
    """Seconds per sample of `steps` steps over a run of `samples` samples, and the sinks' records. Step 1,
    which compiles and starts the graph, runs alone and untimed; then each sample's steps run as one timed
    `run` call and the fastest sample counts (best of, as for the emulator: on a shared box it filters out
    the moments another job held the cores)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        source.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
        per_step = float("inf")
        for chunk in [steps - 1] + [steps] * (samples - 1):
            start = time.perf_counter()
            source.run(condition=RunSteps(num_steps=chunk), run_cfg=cfg)
            per_step = min(per_step, (time.perf_counter() - start) / chunk)
        return per_step * steps, {name: sink.data.get() for name, sink in sinks.items()}
    finally:
        source.stop()


def streamed(frames: np.ndarray) -> np.ndarray:
    """Samples (k, C, H, W, S) back to back in time: (C, H, W, k*S)."""
    return np.concatenate(list(frames), axis=-1)


def netx_lava(path: Path, frames: np.ndarray, options: dict) -> tuple[float, np.ndarray]:
    """netx's own Lava graph on samples (k, C, H, W, S), streamed: seconds per sample, the first sample's
    output (*IR shape, S)."""
    from lava.lib.dl import netx
    from lava.proc import io

    steps, data = frames.shape[-1], streamed(frames)
    net = netx.hdf5.Network(net_config=str(path), **options)
    source = io.source.RingBuffer(data=data.transpose(2, 1, 0, 3).astype(np.int32))
    sink = io.sink.RingBuffer(shape=net.out.shape, buffer=data.shape[-1])
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    seconds, got = timed_lava(source, {"out": sink}, steps, len(frames))
    return seconds, got["out"][..., :steps]


def our_lava(net, frames: np.ndarray) -> tuple[float, np.ndarray]:
    """Our Lava graph of the IR on samples (k, C, H, W, S), streamed, as `netx_lava`."""
    from tmkt_deploy.lava.stream import build_stream_graph, ir_order

    steps = frames.shape[-1]
    source, sinks = build_stream_graph(net, streamed(frames), [net.output])
    seconds, got = timed_lava(source, sinks, steps, len(frames))
    return seconds, ir_order(net, net.output, got[net.output])[..., :steps]


def emulator_seconds(net, frames: np.ndarray, repeats: int, device: str) -> tuple[float, np.ndarray]:
    """Seconds per sample of the fastest of `repeats` calls on all `frames` after a warm-up call, and the
    output."""
    emulate(net, frames[:2], device=device)  # warm-up: kernels, thread pools
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = emulate(net, frames, activity=True, device=device)  # as `report --netx` runs it
        best = min(best, time.perf_counter() - start)
    return best / len(frames), result.output_spikes


@app.command()
def main(size: int = typer.Option(48, help="Input height = width."),
         steps: int = typer.Option(16, help="Steps per sample."),
         samples: int = typer.Option(64, help="Samples the emulator runs in one call."),
         lava_samples: int = typer.Option(4, help="Samples Lava runs, streamed back to back."),
         repeats: int = typer.Option(3, help="Emulator calls timed after a warm-up; the fastest counts."),
         device: str = typer.Option("cpu", help="Emulator device: cpu, cuda or auto."),
         threads: int = typer.Option(0, help="torch threads = most emulator batches at once (0: torch's)."),
         seed: int = typer.Option(0)) -> None:
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    table = Table(title=f"netx networks, 2x{size}x{size} input, {steps} steps, emulator on {device} "
                        f"({torch.get_num_threads()} torch threads)")
    for col in ("network", "Lava baseline", "Lava s/sample", "emulator s/sample", "speed-up", "bit-exact"):
        table.add_column(col)

    inexact: list[str] = []

    def row(name: str, baseline: str, lava: tuple[float, np.ndarray],
            emulated: tuple[float, np.ndarray]) -> None:
        (lava_s, lava_out), (emu_s, emu_out) = lava, emulated
        exact = np.array_equal(emu_out[0], lava_out.reshape(emu_out[0].shape))
        inexact.extend([] if exact else [name])
        table.add_row(name, baseline, f"{lava_s:.3f}", f"{emu_s:.5f}", f"{lava_s / emu_s:,.0f}x", str(exact))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        graded = ((rng.random((samples, 2, size, size, steps)) < 0.3)
                  * rng.integers(-3000, 6000, (samples, 2, size, size, steps))).astype(np.int32)
        net = read_netx(sdnn_conv(size, steps, folder), input_shape=(2, size, size), time_steps=steps,
                        options=NetxOptions(input_message_bits=16))
        row("sdnn-conv", "netx hdf5.Network",
            netx_lava(folder / "sdnn-conv.net", graded[:lava_samples],
                      {"input_shape": (size, size, 2), "input_message_bits": 16}),
            emulator_seconds(net, graded, repeats, device))

        binary = rng.random((samples, 2, size, size, steps)) < 0.2
        net = read_netx(cuba_conv(size, steps, folder, input_layer=True), time_steps=steps)
        row("cuba-input-conv", "tmkt Lava graph (netx's Input does not compile)",
            our_lava(net, binary[:lava_samples]), emulator_seconds(net, binary, repeats, device))
        net = read_netx(cuba_conv(size, steps, folder, input_layer=False), input_shape=(2, size, size),
                        time_steps=steps)
        row("cuba-conv (no input layer)", "netx hdf5.Network",
            netx_lava(folder / "cuba-conv.net", binary[:lava_samples], {"input_shape": (size, size, 2)}),
            emulator_seconds(net, binary, repeats, device))
    console = make_console()
    console.print(table)
    if inexact:
        console.print(f"emulator output differs from Lava's on: {', '.join(inexact)}")
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
