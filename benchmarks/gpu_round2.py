"""Issue 21 on one GPU, in one go: the deploy check end to end, the emulator's CUDA speed and exactness, and
training throughput — every section guarded (an error is printed and recorded, the next section runs).

    python benchmarks/gpu_round2.py OUT       # a random VGGSNN w0.5 on ndigits (359 test samples)
    python benchmarks/gpu_round2.py OUT --checkpoint runs/x/checkpoint.pt

Sections (targets of issue 21 in brackets):
1. `tmkt-deploy export CKPT --target loihi2-sim --lava-samples 0` as a subprocess, wall time including
   start-up [<= 10 s on an H200]: once cold (builds the ndigits cache, compiles Triton kernels and Python
   bytecode), twice warm (the figure), once warm under `-X importtime` (is torch._dynamo imported? who
   imports it) and once warm under cProfile (top functions; `bytecode_compiles` counts modules compiled from
   source). Bytecode goes to a cache in the work folder (`PYTHONPYCACHEPREFIX`): where the installed
   packages' `__pycache__` folders cannot be written (the device box), every run would otherwise compile
   ~1,100 modules again (3.9 s of the 12.6 s H100 figure), which an installed package never does. The runs
   get no PYTHONDONTWRITEBYTECODE (an image's setting: with it the cache is read but never written, and the
   H100 warm runs still compiled 1,465 modules); `pycache_files` counts the cache after the cold run.
2. The emulator in this process on the export's IR and samples: samples/s on CUDA with digests (what export
   runs) and without [>= 2,000 samples/s], with the Triton LIF kernel and with the torch step fallback; CPU
   vs CUDA on a few samples, every layer's spikes, counts and digests, both CUDA paths [bit-exact]; a
   torch.profiler table of one export-like call (digests and activity) in emulator_profile.txt.
3. pytest of the emulator, digest and fast-path tests on this GPU (CPU↔CUDA agreement of spikes and digests,
   SLAYER exactness).
4. benchmarks/train_throughput.py for VGGSNN and ResNet-18 (`fast-spikingnet` with its SLAYER spike check, and
   `fast-spikingnet-fused`, the opt-in fused pool/count scan, in the same process)
   [VGGSNN >= 5,500 samples/s, ResNet-18 >= 4,000 on an H200]; then, if time is left,
   benchmarks/trainer_end_to_end.py (2 epochs) [>= 2,500 pairs/s].
Writes into OUT (at most 9 files): results.json, results.md, export_importtime.txt, export_profile.txt,
emulator_profile.txt, pytest_gpu.txt, train_throughput.json, trainer_end_to_end.txt. About 4-5 minutes on an
H100/H200.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import typer

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 290.0  # optional sections are skipped once the run has used this much
app = typer.Typer(add_completion=False)


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a subprocess, the repo on its path; where `extra` names a bytecode
    cache, without PYTHONDONTWRITEBYTECODE (which would leave the cache empty)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "160", **(extra or {})}
    if "PYTHONPYCACHEPREFIX" in env:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> dict:
    """A subprocess's wall time, exit code and output tails (never raises on failure or timeout)."""
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=_env(env), cwd=ROOT, timeout=timeout)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = "timeout", str(exc.stdout or ""), str(exc.stderr or "")
    return {"wall_s": round(time.perf_counter() - start, 2), "exit": code, "stdout": out, "stderr": err}


def _section(results: dict, name: str, work: Callable[[], dict]) -> None:
    print(f"== {name}", flush=True)
    start = time.perf_counter()
    try:
        results[name] = work()
    except Exception as exc:  # a benchmark reports and goes on
        results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
    results[name]["section_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps({k: v for k, v in results[name].items() if k != "traceback"}, default=str)[:2000],
          flush=True)


def make_checkpoint(folder: Path, backbone: str, width: float, limit: int) -> Path:
    """A random `backbone` run on ndigits (48x48, T=10; `limit` samples per class, 0 = all), its data cache
    inside `folder`."""
    from tmkt_train.checkpoint import CHECKPOINT, Checkpoint, write_checkpoint
    from tmkt_train.config import DataConfig, ModelConfig, TrainConfig
    from tmkt_train.models import build_model

    torch.manual_seed(0)
    cfg = TrainConfig(data=DataConfig(dataset="ndigits", time_steps=10, size=48, dvs_fraction=0.1,
                                      cache_dir=str(folder / "cache"), limit=limit),
                      model=ModelConfig(backbone=backbone, width=width))
    model = build_model(backbone, num_classes=10, input_shape=(2, 48, 48), width=width)
    run = folder / f"{backbone}-w{width:g}"
    run.mkdir(parents=True)
    write_checkpoint(run / CHECKPOINT, Checkpoint(
        train=cfg, num_classes=10, input_shape=(2, 48, 48), time_steps=10, state_dict=model.state_dict(),
        class_names=[str(i) for i in range(10)]))
    return run / CHECKPOINT


def export_cmd(checkpoint: Path, out: Path, python_flags: list[str],
               profile: Path | None = None) -> list[str]:
    """The real CLI (`tmkt-deploy export`) in a fresh interpreter, optionally under cProfile."""
    call = f"cProfile.run('app()', {str(profile)!r})" if profile else "app()"
    code = f"import cProfile, sys; from tmkt_deploy.cli import app; sys.argv[0] = 'tmkt-deploy'; {call}"
    return [sys.executable, *python_flags, "-c", code, "export", str(checkpoint), "--target", "loihi2-sim",
            "--lava-samples", "0", "--out", str(out)]


def importtime_summary(stderr: str) -> dict:
    """torch._dynamo's import chain (if any) and the slowest top-level imports from `-X importtime`."""
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match[2]), len(match[3]) // 2, match[4]))
    chain: list[str] = []
    for i, (_, depth, name) in enumerate(rows):
        if name == "torch._dynamo":
            level = depth
            for _, d, parent in rows[i + 1:]:  # importtime prints children before their parent
                if d < level:
                    chain.append(parent)
                    level = d
            break
    top = sorted((r for r in rows if r[1] <= 1), reverse=True)[:15]
    return {"torch._dynamo_imported": any(r[2] == "torch._dynamo" for r in rows),
            "torchvision_imported": any(r[2] == "torchvision" for r in rows),
            "dynamo_imported_by": chain, "slowest_top_imports_ms": [(n, c // 1000) for c, _, n in top]}


def section_export(checkpoint: Path, work: Path, out: Path) -> dict:
    cache = work / "pycache"
    res: dict = {"PYTHONDONTWRITEBYTECODE_here": os.environ.get("PYTHONDONTWRITEBYTECODE"),
                 "dont_write_bytecode_flag_here": sys.flags.dont_write_bytecode}
    env = {"PYTHONPYCACHEPREFIX": str(cache)}  # see the module docstring
    for label in ("cold", "warm1", "warm2"):
        if label == "warm1":
            res["pycache_files"] = sum(1 for _ in cache.rglob("*.pyc")) if cache.is_dir() else 0
        run = _run(export_cmd(checkpoint, work / f"export-{label}", []),
                   timeout=300 if label == "cold" else 150, env=env)
        res[label] = {"wall_s": run["wall_s"], "exit": run["exit"],
                      "tail": (run["stdout"] + run["stderr"])[-1500:]}
        check = work / f"export-{label}" / "check.json"
        if check.is_file():
            doc = json.loads(check.read_text())
            res[label].update(exact=doc["exact"], samples=doc["samples"], accuracy=doc["accuracy"])
    imports = _run(export_cmd(checkpoint, work / "export-importtime", ["-X", "importtime"]), timeout=150,
                   env=env)
    (out / "export_importtime.txt").write_text(imports["stderr"])
    res["importtime_run"] = {"wall_s": imports["wall_s"], "exit": imports["exit"],
                             **importtime_summary(imports["stderr"])}
    prof = work / "export.prof"
    profiled = _run(export_cmd(checkpoint, work / "export-profile", [], profile=prof), timeout=150, env=env)
    res["profile_run"] = {"wall_s": profiled["wall_s"], "exit": profiled["exit"]}
    if prof.is_file():
        import io
        import pstats

        text = io.StringIO()
        stats = pstats.Stats(str(prof), stream=text)
        compiles = [calls for (_, _, name), (_, calls, *_) in stats.stats.items() if name == "source_to_code"]
        res["profile_run"]["bytecode_compiles"] = sum(compiles)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        (out / "export_profile.txt").write_text(text.getvalue())
    res["warm_wall_s"] = min(res[k]["wall_s"] for k in ("warm1", "warm2"))
    return res


def _same(a, b) -> bool:
    """Same output spikes, and per layer the same spikes, counts, digests and energy counts."""
    fields = ("spike_counts", "layer_spikes", "layer_digests", "window_spikes", "frame_spikes", "changed")
    return np.array_equal(a.output_spikes, b.output_spikes) and all(
        getattr(a, f).keys() == getattr(b, f).keys()
        and all(np.array_equal(getattr(a, f)[k], getattr(b, f)[k]) for k in getattr(a, f)) for f in fields)


def profile_table(net, frames: np.ndarray, device: torch.device, path: Path) -> None:
    """torch.profiler's op table (by CUDA time, then by CPU time) of one export-like emulator call."""
    from torch.profiler import ProfilerActivity, profile

    from tmkt_deploy.emulator import emulate

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        emulate(net, frames, device=device, digests=True, activity=True)
        torch.cuda.synchronize()
    ops = prof.key_averages()
    path.write_text(ops.table(sort_by="cuda_time_total", row_limit=35) + "\n\n"
                    + ops.table(sort_by="cpu_time_total", row_limit=35))


def section_emulator(export_dir: Path, exact_samples: int, out: Path) -> dict:
    from tmkt_deploy.emulator import emulate, engine, synapse
    from tmkt_deploy.ir import Network

    net = Network.load(export_dir / "ir")
    with np.load(export_dir / "samples.npz") as data:
        frames = data["frames"]
    cuda = torch.device("cuda")
    res: dict = {"network": net.name, "samples": len(frames), "steps": net.steps_per_sample(),
                 "neurons": sum(lay.num_neurons for lay in net.layers),
                 "gpu_batch": engine._default_batch(net, net.steps_per_sample(), cuda)}

    def rate(**kwargs) -> float:
        emulate(net, frames[:8], device=cuda, **kwargs)  # warm-up: kernels compiled, allocator primed
        best = float("inf")
        for _ in range(3):
            torch.cuda.synchronize()
            start = time.perf_counter()
            emulate(net, frames, device=cuda, **kwargs)
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        return round(len(frames) / best, 1)

    runner = engine.WindowRunner(net, cuda)
    emulate(net, frames[:8], runner=runner)  # int8 convs check themselves once against float32
    res["int8_convs"] = f"{sum(op.int8 is not None for ops in runner.ops.values() for op in ops)} of " \
                        f"{sum(op.syn.kind == 'conv' for ops in runner.ops.values() for op in ops)} synapses"
    res["cuda_samples_per_s_export_call"] = rate(digests=True, activity=True)  # what export runs
    res["cuda_samples_per_s_with_digests"] = rate(digests=True)
    res["cuda_samples_per_s"] = rate()
    try:
        profile_table(net, frames, cuda, out / "emulator_profile.txt")
    except Exception as exc:  # the figures above stand without it
        res["profile_error"] = f"{type(exc).__name__}: {exc}"
    saved_int8 = synapse._int8_weights
    synapse._int8_weights = lambda *args: None  # float32 GEMMs only
    try:
        res["cuda_samples_per_s_float32_gemm"] = rate(digests=True)
        float_gemm = emulate(net, frames[:exact_samples], record=True, digests=True, activity=True,
                             device=cuda)
    finally:
        synapse._int8_weights = saved_int8
    res["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    few = frames[:exact_samples]
    cpu = emulate(net, few, record=True, digests=True, activity=True)
    fused = emulate(net, few, record=True, digests=True, activity=True, device=cuda)
    res["cpu_lif"] = "numba" if engine._kernel("lif_kernel") else "torch steps (no numba here)"
    res["cuda_lif"] = "triton" if engine._kernel("lif_triton") else "torch steps (no triton here)"
    res["cpu_equals_cuda_fused"] = _same(cpu, fused)
    res["cpu_equals_cuda_float32_gemm"] = _same(cpu, float_gemm)
    saved = engine._kernel
    engine._kernel = lambda name: None if name == "lif_triton" else saved(name)  # the torch step path
    try:
        torch_lif = emulate(net, few, record=True, digests=True, activity=True, device=cuda)
        res["cpu_equals_cuda_torch_lif"] = _same(cpu, torch_lif)
        res["cuda_samples_per_s_torch_lif"] = rate(digests=True)
    finally:
        engine._kernel = saved
    start = time.perf_counter()
    emulate(net, frames[:16])
    res["cpu_samples_per_s"] = round(16 / (time.perf_counter() - start), 1)
    res["output_spikes_per_sample"] = float(cpu.output_spikes.sum()) / len(few)
    return res


def section_pytest(out: Path) -> dict:
    run = _run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                "tests/test_emulator.py", "tests/test_emulator_triton.py", "tests/test_digest_format.py",
                "tests/test_fast_cuba.py"],
               timeout=240)
    (out / "pytest_gpu.txt").write_text(run["stdout"] + run["stderr"])
    summary = [line for line in run["stdout"].splitlines() if " passed" in line or " failed" in line]
    return {"exit": run["exit"], "wall_s": run["wall_s"], "summary": summary[-1:] or run["stdout"][-500:]}


def section_training(out: Path) -> dict:
    run = _run([sys.executable, "benchmarks/train_throughput.py", "--archs", "vggsnn,resnet18", "--trainers",
                "fast-spikingnet,fast-spikingnet-fused", "--check", "--json-out",
                str(out / "train_throughput.json")], timeout=240)
    path = out / "train_throughput.json"
    doc = json.loads(path.read_text()) if path.is_file() else None
    return {"exit": run["exit"], "wall_s": run["wall_s"], "results": doc, "tail": run["stdout"][-2500:],
            "stderr": run["stderr"][-1500:]}


def section_end_to_end(out: Path, timeout: float) -> dict:
    run = _run([sys.executable, "benchmarks/trainer_end_to_end.py", "--epochs", "2", "--repeats", "1"],
               timeout=timeout)
    (out / "trainer_end_to_end.txt").write_text(run["stdout"] + run["stderr"])
    lines = [json.loads(line) for line in run["stdout"].splitlines() if line.startswith("{")]
    return {"exit": run["exit"], "wall_s": run["wall_s"], "runs": lines}


def results_md(results: dict) -> str:
    env = results.get("environment", {})
    lines = [f"# Issue 21 on {env.get('gpu')} (torch {env.get('torch')}, Python {env.get('python')})", ""]
    exp = results.get("export", {})
    if "error" in exp:
        lines.append(f"- export: ERROR {exp['error']}")
    else:
        for label in ("cold", "warm1", "warm2"):
            e = exp.get(label, {})
            lines.append(f"- `tmkt-deploy export --target loihi2-sim --lava-samples 0` {label}: "
                         f"{e.get('wall_s')} s wall (exit {e.get('exit')}, exact {e.get('exact')}, "
                         f"samples {e.get('samples')})")
        imp = exp.get("importtime_run", {})
        lines.append(f"- warm best: {exp.get('warm_wall_s')} s (target <= 10 s on an H200); torch._dynamo "
                     f"imported: {imp.get('torch._dynamo_imported')} {imp.get('dynamo_imported_by') or ''}; "
                     f"modules byte-compiled in the profiled warm run: "
                     f"{exp.get('profile_run', {}).get('bytecode_compiles')} (bytecode cache after the cold "
                     f"run: {exp.get('pycache_files')} files; PYTHONDONTWRITEBYTECODE here: "
                     f"{exp.get('PYTHONDONTWRITEBYTECODE_here')!r}, dropped for the runs)")
    emu = results.get("emulator", {})
    if "error" in emu:
        lines.append(f"- emulator: ERROR {emu['error']}")
    else:
        lines.append(f"- emulator on CUDA ({emu.get('samples')} samples, batch {emu.get('gpu_batch')}): "
                     f"{emu.get('cuda_samples_per_s_export_call')} samples/s as export calls it (digests, "
                     f"activity), {emu.get('cuda_samples_per_s_with_digests')} with digests, "
                     f"{emu.get('cuda_samples_per_s')} without (target >= 2,000); int8 convs "
                     f"{emu.get('int8_convs')}, float32 GEMMs only "
                     f"{emu.get('cuda_samples_per_s_float32_gemm')}; torch-step LIF "
                     f"{emu.get('cuda_samples_per_s_torch_lif')}; CPU {emu.get('cpu_samples_per_s')}")
        lines.append(f"- CPU == CUDA (every layer, counts, digests): fused "
                     f"{emu.get('cpu_equals_cuda_fused')}, float32 GEMMs "
                     f"{emu.get('cpu_equals_cuda_float32_gemm')}, torch LIF "
                     f"{emu.get('cpu_equals_cuda_torch_lif')}; "
                     f"peak {emu.get('peak_gib')} GiB; LIF: {emu.get('cpu_lif')} / {emu.get('cuda_lif')}")
    lines.append(f"- pytest on GPU: {results.get('pytest', {}).get('summary')}")
    train = results.get("training", {}).get("results") or []
    for row in train if isinstance(train, list) else train.get("results", []):
        lines.append(f"- train throughput {row}")
    for run in results.get("end_to_end", {}).get("runs", []):
        lines.append(f"- trainer end to end {run}")
    return "\n".join(lines) + "\n"


@app.command()
def main(
    out: Path = typer.Argument(..., help="output folder (created; must be new or empty)"),
    checkpoint: Path = typer.Option(None, help="a checkpoint to export instead of a random VGGSNN w0.5"),
    exact_samples: int = typer.Option(4, help="samples compared CPU vs CUDA, every layer"),
    skip_training: bool = typer.Option(False, help="deploy sections only"),
    backbone: str = typer.Option("vggsnn", help="the random checkpoint's backbone"),
    width: float = typer.Option(0.5, help="the random checkpoint's width"),
    limit: int = typer.Option(0, help="ndigits samples per class (0 = all: 359 test samples)"),
) -> None:
    if out.exists() and any(out.iterdir()):
        raise typer.BadParameter(f"{out} is not empty", param_hint="OUT")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def elapsed() -> float:
        return time.perf_counter() - started
    results: dict = {"environment": {
        "python": sys.version.split()[0], "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory(prefix="gpu_round2-") as tmp:
        work = Path(tmp)
        ckpt = checkpoint or make_checkpoint(work, backbone, width, limit)
        sections = [("export", lambda: section_export(ckpt, work, out)),
                    ("emulator", lambda: section_emulator(work / "export-warm1", exact_samples, out)),
                    ("pytest", lambda: section_pytest(out))]
        if not skip_training:
            sections.append(("training", lambda: section_training(out)))
            sections.append(("end_to_end", lambda: section_end_to_end(out, BUDGET_S - elapsed())))
        for name, run in sections:
            if name == "end_to_end" and BUDGET_S - elapsed() <= 45:
                break
            _section(results, name, run)
            write_results(out, results, elapsed())  # after each section: a time limit keeps what finished
    print(results_md(results))


def write_results(out: Path, results: dict, total_s: float) -> None:
    results["total_s"] = round(total_s, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "results.md").write_text(results_md(results))


if __name__ == "__main__":
    app()
