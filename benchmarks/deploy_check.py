"""Deploy-check speed: Lava's fixed_pt simulation vs the batched emulator, same IR, same graded samples.

Prints samples/s of Lava (`lava.simulate`, loihi2-sim, samples back to back; steady state, i.e. after
the first sample, which also pays for building and compiling the graph) and of the emulator on CPU and, when
present, CUDA; the speed-up over Lava; and whether the emulator reproduced Lava's spikes exactly (every layer,
every step) on the samples both ran, and whether the CPU and CUDA emulators gave the same output spikes and
the same per-layer spike counts per sample (a summary, not every layer's spikes: the tests compare those).

    python benchmarks/deploy_check.py                       # SCNN, 2x48x48, T=10, untrained weights
    python benchmarks/deploy_check.py --backbone vggsnn --width 0.25 --samples 128
    python benchmarks/deploy_check.py --ir runs/x/ir --lava-samples 0   # a saved IR, emulator only

The network is a registry backbone with seeded random weights (speed does not depend on training) unless
`--ir` names a saved IR; the samples are seeded sparse graded spikes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import typer
from rich.console import Console
from rich.table import Table

from tmkt_common.atomic import atomic_write
from tmkt_deploy.emulator import EmulatorResult, emulate
from tmkt_deploy.ir import Network

app = typer.Typer(add_completion=False)


def build_ir(backbone: str, size: int, width: float, time_steps: int, seed: int) -> Network:
    from tmkt_deploy.quantize import quantize_net
    from tmkt_train.models import build_model

    torch.manual_seed(seed)
    model = build_model(backbone, num_classes=10, input_shape=(2, size, size), width=width).eval()
    return quantize_net(model, name=f"{backbone}-{size}px-w{width:g}", time_steps=time_steps)


def graded_samples(net: Network, count: int, seed: int) -> np.ndarray:
    """Sparse graded spikes (N, C, H, W, T): 10 % of pixels active, payloads 1..15 (like encoded DVS bins)."""
    rng = np.random.default_rng(seed)
    shape = (count, *net.input_shape, net.time_steps)
    return ((rng.random(shape) < 0.1) * rng.integers(1, 16, shape)).astype(np.int32)


def time_lava(net: Network, frames: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """Steady-state samples/s of Lava's fixed_pt run (after the first sample) and its spike records."""
    from tmkt_deploy.lava.simulate import simulate

    done: list[float] = []
    spikes = simulate(net, frames, on_sample=lambda _k: done.append(time.perf_counter()))
    return (len(done) - 1) / (done[-1] - done[0]), spikes


def time_emulator(net: Network, frames: np.ndarray, device: torch.device, batch_size: int | None,
                  repeats: int) -> tuple[float, EmulatorResult]:
    """Best-of-`repeats` samples/s after one warm-up pass (JIT compile, CUDA context)."""
    emulate(net, frames[: min(len(frames), 4)], device=device)
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = emulate(net, frames, device=device, batch_size=batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return len(frames) / best, result


def same_outputs_and_counts(a: EmulatorResult, b: EmulatorResult) -> bool:
    """Same output spikes, and the same spike count per layer and sample."""
    return np.array_equal(a.output_spikes, b.output_spikes) and all(
        np.array_equal(a.spike_counts[k], b.spike_counts[k]) for k in a.spike_counts)


@app.command()
def main(
    backbone: str = typer.Option("scnn", help="registry backbone (scnn, vggsnn, resnet18)"),
    size: int = typer.Option(48, help="input height = width"),
    width: float = typer.Option(1.0, help="channel width multiplier"),
    time_steps: int = typer.Option(10, help="frames per sample (T)"),
    ir: Path = typer.Option(None, help="a saved IR directory instead of a registry backbone"),
    save_ir: Path = typer.Option(None, help="also save the IR used here (to rerun elsewhere with --ir)"),
    lava_samples: int = typer.Option(3, help="samples through Lava, at least 2 (0 skips Lava)"),
    samples: int = typer.Option(256, help="samples through the emulator"),
    batch_size: int = typer.Option(None, help="emulator batch size (default: from its memory budget)"),
    repeats: int = typer.Option(2, help="timed emulator passes per device (best is kept)"),
    seed: int = typer.Option(0),
    json_out: Path = typer.Option(None, "--json", help="also write the figures as JSON here"),
) -> None:
    if lava_samples == 1:
        raise typer.BadParameter("Lava needs 2 samples or more (the first also builds and compiles)",
                                 param_hint="--lava-samples")
    net = Network.load(ir) if ir else build_ir(backbone, size, width, time_steps, seed)
    if save_ir:
        net.save(save_ir)
    frames = graded_samples(net, max(samples, lava_samples), seed)
    report: dict = {"network": net.name, "layers": len(net.layers), "time_steps": net.time_steps,
                    "latency": net.latency(), "samples": samples, "lava_samples": lava_samples,
                    "load_average_1min": os.getloadavg()[0]}  # other work on the box slows both runners

    lava_rate = None
    if lava_samples:
        lava_rate, lava_spikes = time_lava(net, frames[:lava_samples])
        check = emulate(net, frames[:lava_samples], record=True)
        report["bit_exact_vs_lava"] = all(np.array_equal(check.layer_spikes[name], spikes)
                                          for name, spikes in lava_spikes.items())
    report["lava_samples_per_s"] = lava_rate

    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    results = {}
    for device in devices:
        rate, results[device.type] = time_emulator(net, frames[:samples], device, batch_size, repeats)
        report[f"emulator_{device.type}_samples_per_s"] = rate
        report[f"speedup_{device.type}"] = rate / lava_rate if lava_samples else None
    if len(results) > 1:
        report["devices_agree"] = same_outputs_and_counts(results["cpu"], results["cuda"])

    table = Table(title=f"deploy check speed: {net.name}, T={net.time_steps} (+{net.latency()} flush steps)")
    for column in ("runner", "samples", "samples/s", "vs Lava"):
        table.add_column(column, justify="right" if column != "runner" else "left")
    if lava_samples:
        table.add_row("Lava fixed_pt (CPU)", str(lava_samples), f"{lava_rate:.2f}", "1x")
    for device in devices:
        threads = f"{torch.get_num_threads()} threads"
        where = torch.cuda.get_device_name() if device.type == "cuda" else threads
        speedup = report[f"speedup_{device.type}"]
        table.add_row(f"emulator ({device.type}, {where})", str(samples),
                      f"{report[f'emulator_{device.type}_samples_per_s']:.1f}",
                      f"{speedup:.0f}x" if speedup else "-")
    console = Console()
    console.print(table)
    console.print(f"load average (1 min) when starting: {report['load_average_1min']:.2f} "
                  f"on {os.cpu_count()} CPUs")
    if "bit_exact_vs_lava" in report:
        console.print(f"emulator == Lava on all layers and steps of {lava_samples} samples: "
                      f"{report['bit_exact_vs_lava']}")
    if "devices_agree" in report:
        console.print("CPU and CUDA emulators: same output spikes and per-layer spike counts: "
                      f"{report['devices_agree']}")
    if json_out:
        with atomic_write(json_out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    app()
