"""Training throughput of our VGGSNN / ResNet-18 built several ways, measured in one process.

Trainers (VGGSNN: all; ResNet-18: the two `spikingnet` ones, no baseline ResNets are built here):
- `fast`: the registry VGGSNN's SLAYER blocks run by `tmkt_train.fast.FoldedNet` (T steps);
- `slayer`: the same blocks run by lava-dl SLAYER itself (T steps);
- `snntorch`, `snntorch-bf16`: the same layer stack with snnTorch `Leaky` (fp32 / bf16 autocast);
- `spikingjelly`, `spikingjelly-bf16`: SpikingJelly multi-step LIF (optional import, skipped if absent);
- `fast-spikingnet`: our training model, `FastSpikingNet(build_model(...))` (T delay-free steps, NetOutput;
  what `SpikingNet.forward` runs on CUDA);
- `fast-fused`, `fast-spikingnet-fused`: the same with `fuse=True` (pools and spike counts inside the scan,
  issue 21; off by default until checked on a GPU): the ratio of those fusions in one process;
- `spikingnet`: the registry `SpikingNet`'s SLAYER-neuron path (`run(x, chip_timing=False)`, T steps).
Each runs warm-up + timed forward/backward/Adam steps; prints samples/s, peak GPU memory and ratios, and
writes JSON. `--check` first compares our spikes with SLAYER's. `--small` is a tiny CPU run for CI.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import torch
import typer
from rich.console import Console
from rich.table import Table

from tmkt_common.atomic import atomic_write
from tmkt_train.fast import FoldedNet
from tmkt_train.models import build_model
from tmkt_train.models.fast_net import FastSpikingNet

VGG = (64, 128, "P", 256, 256, "P", 512, 512, "P", 512, 512, "P")
console = Console(width=200)


@dataclass(frozen=True)
class Setup:
    """One benchmark configuration."""

    arch: str
    batch: int
    size: int
    time_steps: int
    width: float
    num_classes: int
    device: str


@dataclass
class Result:
    arch: str
    trainer: str
    samples_per_s: float | None
    peak_gib: float | None  # steady state: the timed steps
    warmup_peak_gib: float | None = None  # includes one-time cuDNN autotuning workspaces
    note: str = ""


class NotBuilt(Exception):
    """This trainer has no version of this architecture."""


Forward = Callable[[torch.Tensor], torch.Tensor]


def registry_model(setup: Setup) -> torch.nn.Module:
    return build_model(setup.arch, num_classes=setup.num_classes, input_shape=(2, setup.size, setup.size),
                       width=setup.width)


def vggsnn_chain(setup: Setup) -> torch.nn.Sequential:
    """The registry VGGSNN's SLAYER blocks in order (the VGGSNN graph is a chain)."""
    if setup.arch != "vggsnn":
        raise NotBuilt(f"{setup.arch} is not a chain of blocks")
    net = registry_model(setup)
    return torch.nn.Sequential(*[net.nodes[name] for name, _ in net.graph])


def fast(setup: Setup, fuse: bool = False) -> tuple[Forward, torch.nn.Module]:
    blocks = vggsnn_chain(setup).to(setup.device)
    return FoldedNet(blocks, fuse=fuse), blocks


def plain_slayer(setup: Setup) -> tuple[Forward, torch.nn.Module]:
    blocks = vggsnn_chain(setup).to(setup.device)
    return blocks, blocks


def fast_spiking_net(setup: Setup, fuse: bool = False) -> tuple[Forward, torch.nn.Module]:
    """The training model; the forward reads the spike counts too, as the trainer does (`total_spikes`)."""
    net = registry_model(setup).to(setup.device)
    model = FastSpikingNet(net, fuse=fuse)

    def forward(x: torch.Tensor) -> torch.Tensor:
        out = model(x)
        return out.spikes + 0 * out.total_spikes.float()

    return forward, net


def spiking_net(setup: Setup) -> tuple[Forward, torch.nn.Module]:
    net = registry_model(setup).to(setup.device)
    return (lambda x: net.run(x, chip_timing=False)[0][net.output]), net


def snntorch_vgg(setup: Setup) -> tuple[Forward, torch.nn.Module]:
    """The VGGSNN layer stack with snnTorch `Leaky` neurons, stepped over time in Python (its usage)."""
    import snntorch as snn

    if setup.arch != "vggsnn":
        raise NotBuilt(f"no snnTorch {setup.arch} here")
    layers, lifs, channels, size = torch.nn.ModuleList(), torch.nn.ModuleList(), 2, setup.size
    for item in VGG:
        if item == "P":
            layers.append(torch.nn.AvgPool2d(2))
            size //= 2
        else:
            width = max(1, round(item * setup.width))
            layers.append(torch.nn.Conv2d(channels, width, 3, padding=1, bias=False))
            channels = width
        lifs.append(snn.Leaky(beta=0.9))
    layers.append(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(channels * size * size,
                                                                          setup.num_classes, bias=False)))
    lifs.append(snn.Leaky(beta=0.9))
    net = torch.nn.ModuleList([layers, lifs]).to(setup.device)

    def forward(x: torch.Tensor) -> torch.Tensor:
        mems = [lif.init_leaky() for lif in lifs]
        out = []
        for t in range(x.shape[-1]):
            h = x[..., t]
            for i, (layer, lif) in enumerate(zip(layers, lifs, strict=True)):
                h, mems[i] = lif(layer(h), mems[i])
            out.append(h)
        return torch.stack(out, -1)

    return forward, net


def spikingjelly_vgg(setup: Setup) -> tuple[Forward, torch.nn.Module]:
    """The VGGSNN layer stack with SpikingJelly multi-step LIF nodes (its fused kernels)."""
    from spikingjelly.activation_based import functional, layer, neuron

    if setup.arch != "vggsnn":
        raise NotBuilt(f"no SpikingJelly {setup.arch} here")
    modules, channels, size = [], 2, setup.size
    for item in VGG:
        if item == "P":
            modules.append(layer.AvgPool2d(2, step_mode="m"))
            size //= 2
        else:
            width = max(1, round(item * setup.width))
            modules.append(layer.Conv2d(channels, width, 3, padding=1, bias=False, step_mode="m"))
            channels = width
        modules.append(neuron.LIFNode(tau=2.0, detach_reset=True, step_mode="m"))
    modules += [
        layer.Flatten(step_mode="m"),
        layer.Linear(channels * size * size, setup.num_classes, bias=False, step_mode="m"),
        neuron.LIFNode(tau=2.0, detach_reset=True, step_mode="m"),
    ]
    net = torch.nn.Sequential(*modules).to(setup.device)

    def forward(x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(net)
        return net(x.movedim(-1, 0)).movedim(0, -1)

    return forward, net


# name → (builder, autocast dtype or None)
TRAINERS: dict[str, tuple[Callable[[Setup], tuple[Forward, torch.nn.Module]], torch.dtype | None]] = {
    "fast": (fast, None),
    "slayer": (plain_slayer, None),
    "snntorch": (snntorch_vgg, None),
    "snntorch-bf16": (snntorch_vgg, torch.bfloat16),
    "spikingjelly": (spikingjelly_vgg, None),
    "spikingjelly-bf16": (spikingjelly_vgg, torch.bfloat16),
    "fast-spikingnet": (fast_spiking_net, None),
    "fast-fused": (partial(fast, fuse=True), None),
    "fast-spikingnet-fused": (partial(fast_spiking_net, fuse=True), None),
    "spikingnet": (spiking_net, None),
}


def frames(setup: Setup, batch: int, time_steps: int, seed: int = 0) -> torch.Tensor:
    """DVS-like input: sparse small per-polarity event counts, `(N, 2, H, W, T)`."""
    generator = torch.Generator().manual_seed(seed)
    rate = torch.full((batch, 2, setup.size, setup.size, time_steps), 0.3)
    counts = torch.poisson(rate, generator=generator)
    return counts.to(setup.device)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_training(name: str, setup: Setup, warmup: int, steps: int, profile: bool = False) -> Result:
    """Build trainer `name`, run `warmup` then `steps` timed Adam steps; samples/s and peak GPU memory."""
    builder, autocast = TRAINERS[name]
    try:
        forward, owner = builder(setup)
    except (ImportError, NotBuilt) as error:
        return Result(setup.arch, name, None, None, note=f"skipped: {error}")
    on_gpu = setup.device.startswith("cuda")
    optimizer = torch.optim.Adam([p for p in owner.parameters() if p.requires_grad], lr=1e-3)
    x = frames(setup, setup.batch, setup.time_steps)
    labels = torch.randint(0, setup.num_classes, (setup.batch,), device=setup.device)
    if on_gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        with torch.autocast(setup.device, autocast or torch.float32, enabled=autocast is not None):
            logits = forward(x).float().sum(-1)
            loss = torch.nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    try:
        for _ in range(warmup):
            step()
        _sync(setup.device)
        warmup_peak = _peak_gib(on_gpu)
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(setup.device)
        elapsed = time.perf_counter() - start
        if profile:
            print_profile(step)
    except torch.cuda.OutOfMemoryError as error:
        return Result(setup.arch, name, None, None, note=f"failed: {str(error).splitlines()[0]}")
    return Result(setup.arch, name, setup.batch * steps / elapsed, _peak_gib(on_gpu), warmup_peak)


def _peak_gib(on_gpu: bool) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None


def print_profile(step: Callable[[], None]) -> None:
    """Top kernels of two steps, by device time (where the time goes)."""
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(2):
            step()
        torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70)
    console.print(table)


def mismatches(reference: list[torch.Tensor], candidate: list[torch.Tensor]) -> list[int]:
    """Number of differing elements in each pair of tensors."""
    pairs = zip(reference, candidate, strict=True)
    return [int((r.float().cpu() != c.float().cpu()).sum()) for r, c in pairs]


def exactness(setup: Setup, batch: int, time_steps: int) -> dict:
    """Our spikes vs SLAYER's on the same quantized weights and inputs.

    Reference: SLAYER on CPU (its int64 reference dynamics), layer by layer for the VGGSNN chain, and the
    registry `SpikingNet` (spikes, features, potentials) for `fast-spikingnet`. Also our GPU chain at the
    benchmark batch vs itself with float64 synapses (the TF32 convolutions cuDNN picks at full size), and,
    for information, SLAYER's own CUDA kernel vs its CPU reference.
    """
    torch.manual_seed(1)
    cpu = replace(setup, device="cpu")
    report: dict = {"batch": batch}
    with torch.no_grad():
        net = registry_model(cpu)
        x = frames(cpu, batch, setup.time_steps, seed=4)
        want, have = net(x), FastSpikingNet(copy.deepcopy(net).to(setup.device))(x.to(setup.device))
        report["spikingnet"] = {
            "time_steps": setup.time_steps,
            "output_spike_mismatches": mismatches([want.spikes], [have.spikes])[0],
            "feature_max_abs_diff": float((want.features - have.features.cpu()).abs().max()),
            "potential_mismatches": mismatches([want.potentials], [have.potentials])[0],
            "spikes_per_layer": {k: round(v) for k, v in want.spike_counts.items()},
        }
        if setup.arch != "vggsnn":
            return report
        blocks = vggsnn_chain(cpu)
        x = frames(cpu, batch, time_steps, seed=2)
        reference = []
        for block in blocks:
            reference.append(block(x if not reference else reference[-1]))
        gpu_blocks = copy.deepcopy(blocks).to(setup.device)
        chain = report["chain"] = {
            "time_steps": time_steps,
            "spike_rate_per_layer": [round(float(r.mean()), 4) for r in reference],
            "fast_vs_slayer_cpu_mismatches": mismatches(
                reference, FoldedNet(gpu_blocks)(x.to(setup.device), True)
            ),
        }
        if setup.device == "cuda":
            slayer_gpu = []
            for block in gpu_blocks:
                slayer_gpu.append(block(x.to(setup.device) if not slayer_gpu else slayer_gpu[-1]))
            chain["slayer_cuda_vs_slayer_cpu_mismatches"] = mismatches(reference, slayer_gpu)
            full = frames(setup, setup.batch, time_steps, seed=3)
            exact = FoldedNet(copy.deepcopy(gpu_blocks).double(), mixed=False)(full.double(), True)
            fast_full = FoldedNet(gpu_blocks)(full, True)
            chain["full_batch_fast_vs_float64_mismatches"] = mismatches(exact, fast_full)
    return report


def print_results(results: list[Result], setup: Setup) -> None:
    table = Table(title=f"{setup.arch} {setup.size}x{setup.size}, T={setup.time_steps}, B={setup.batch}, "
                        f"{setup.device}")
    baselines = [r for r in results if r.samples_per_s]
    ratios = [f"× {b.trainer}" for b in baselines]
    columns = ["trainer", "samples/s", "peak GiB", "warm-up peak GiB", *ratios, "note"]
    for column in columns:
        table.add_column(column)
    for r in results:
        ratios = [f"{r.samples_per_s / b.samples_per_s:.2f}" if r.samples_per_s else "" for b in baselines]
        table.add_row(
            r.trainer, f"{r.samples_per_s:,.1f}" if r.samples_per_s else "-",
            _gib(r.peak_gib), _gib(r.warmup_peak_gib), *ratios, r.note,
        )
    console.print(table)


def plot(report: dict, path: Path) -> None:
    """Bar chart of samples/s per trainer (one panel per architecture), steady peak GiB on each bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [run for run in report["runs"] if any(r["samples_per_s"] for r in run["results"])]
    bars_per_run = [sum(1 for r in run["results"] if r["samples_per_s"]) for run in runs]
    fig, axes = plt.subplots(1, len(runs), figsize=(2 + 1.1 * sum(bars_per_run), 4.5), squeeze=False,
                             gridspec_kw={"width_ratios": [max(2, n) for n in bars_per_run]})
    for ax, run in zip(axes[0], runs, strict=True):
        done = [r for r in run["results"] if r["samples_per_s"]]
        bars = ax.bar([r["trainer"] for r in done], [r["samples_per_s"] for r in done])
        labels = ["" if r["peak_gib"] is None else f"{r['peak_gib']:.1f} GiB" for r in done]
        ax.bar_label(bars, labels, fontsize=8)
        setup = run["setup"]
        ax.set_title(f"{setup['arch']} {setup['size']}x{setup['size']}, T={setup['time_steps']}, "
                     f"B={setup['batch']}\n{report['gpu'] or 'cpu'}", fontsize=9)
        ax.set_ylabel("training samples/s (fwd + bwd + Adam)")
        ax.tick_params(axis="x", rotation=30, labelsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def _gib(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(
    small: bool = typer.Option(False, help="tiny nets on CPU, batch 2, T=4 (CI smoke test)"),
    archs: str = typer.Option("vggsnn", help="comma-separated: vggsnn, resnet18"),
    trainers: str = typer.Option(",".join(TRAINERS), help="comma-separated trainer names"),
    batch: int = typer.Option(128),
    size: int = typer.Option(48),
    time_steps: int = typer.Option(10),
    warmup: int = typer.Option(3),
    steps: int = typer.Option(10),
    check: bool = typer.Option(False, help="compare our spikes with SLAYER's first"),
    check_batch: int = typer.Option(4),
    check_time_steps: int = typer.Option(24, help="chain check: long enough for spikes to reach every layer"),
    profile: bool = typer.Option(False, help="print the top kernels of the first trainer (CUDA)"),
    cudnn_benchmark: bool = typer.Option(True, help="let cuDNN time its algorithms (torch.backends.cudnn)"),
    json_out: Path = typer.Option(None, help="write results here as JSON"),
    png: Path = typer.Option(None, help="write a bar chart of samples/s (and peak GiB) here"),
) -> None:
    """Measure training samples/s and peak memory of each trainer."""
    names = [n.strip() for n in trainers.split(",") if n.strip()]
    unknown = [n for n in names if n not in TRAINERS]
    if unknown:
        raise typer.BadParameter(f"unknown {unknown}; choose from {list(TRAINERS)}", param_hint="--trainers")
    device = "cuda" if torch.cuda.is_available() and not small else "cpu"
    if device == "cuda":
        from tmkt_common.device import configure_lava_cuda

        configure_lava_cuda()
        torch.backends.cudnn.benchmark = cudnn_benchmark
    else:
        torch.set_num_threads(1)
    if small:
        batch, size, time_steps, check_batch, check_time_steps = 2, 16, 4, 1, 16
    gpu = torch.cuda.get_device_name() if device == "cuda" else None
    report: dict = {"torch": torch.__version__, "gpu": gpu, "runs": []}
    for arch in [a.strip() for a in archs.split(",") if a.strip()]:
        setup = Setup(arch, batch, size, time_steps, 1 / 16 if small else 1.0, 10, device)
        run: dict = {"setup": asdict(setup)}
        if check:
            run["exactness"] = exactness(setup, check_batch, check_time_steps)
            console.print_json(data=run["exactness"])
        results = []
        for index, name in enumerate(names):
            result = time_training(name, setup, warmup, steps, profile and index == 0 and device == "cuda")
            console.print(result)
            results.append(result)
        run["results"] = [asdict(r) for r in results]
        report["runs"].append(run)
        print_results(results, setup)
    if json_out is not None:
        with atomic_write(json_out, "w") as handle:
            handle.write(json.dumps(report, indent=2))
    if png is not None:
        plot(report, png)


if __name__ == "__main__":
    typer.run(main)
