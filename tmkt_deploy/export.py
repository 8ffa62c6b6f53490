"""`tmkt-deploy export` / `run` as functions: checkpoint → IR (+ netx) → target → spike checks → files.

An export folder holds everything a later `run` needs without the checkpoint or the data set: `ir/` (the
integer IR), `network.net` (netx HDF5, sequential nets only), `samples.npz` (the graded test frames, labels,
float-model predictions and the quantized model's spike record), and after a check `check.json`, `spikes.json`
and `activity.npz` (per-neuron activity, for exact energy). Every checked target runs the batched emulator on
all samples (the deployed accuracy on the whole test set); `loihi2-sim` also runs Lava's fixed-point
simulation on the first `lava_samples` as the ground truth the emulator must reproduce, `lava-cpu` Lava's
floating-point models, `nir` / `onnx` write the interop file (and the ONNX step graph is run and compared with
the emulator). Targets are a registry: one line per target in `TARGETS`.

An export or re-run writes into a staged folder that replaces the previous outputs only when it finished
(`tmkt_common.atomic.staged_folder`): a failure leaves the folder as it was, never a new `ir/` without its
samples and check. `check.json` names the interop files it checked relative to the folder, so it can move.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tmkt_common.atomic import staged_folder, write_json
from tmkt_common.cli import progress as progress_bar
from tmkt_common.device import free_gpu_bytes, pick_device
from tmkt_common.errors import TargetUnavailable
from tmkt_common.npz import write_npz

from .check import CheckResult, SpikeRecord, accuracy, agreement, predict_counts
from .emulator import emulate
from .energy.records import ActivityRecord
from .export_folder import (
    ACTIVITY_FILE,
    CHECK_FILE,
    CHECK_FILES,
    EXPORT_FILES,
    IR_DIR,
    NETX_FILE,
    NIR_FILE,
    ONNX_FILE,
    SAMPLES_FILE,
    SPIKES_FILE,
    spike_summary,
)
from .interop.netx_writer import sequential_problem, write_netx
from .ir import Network

REFERENCE_BATCH = 16  # samples per PyTorch reference pass on CPU (on a GPU: from its free memory)
REFERENCE_BYTES_PER_SPIKE = 32  # GPU bytes per neuron-step of a reference pass (all nodes kept; generous)
CHUNK_SPIKES = 1 << 26  # spikes (all layers, all steps) kept in memory per ONNX chunk
DEFAULT_LAVA_SAMPLES = 4


@dataclass
class ExportJob:
    """What a target function gets: the IR, the folder to write into (staged, see module) and the samples."""

    net: Network
    out: Path
    frames: np.ndarray  # graded input spikes (N, C, H, W, T) uint8
    labels: np.ndarray
    float_pred: np.ndarray
    quantized: SpikeRecord  # the quantized SLAYER model's spikes
    lava_samples: int = DEFAULT_LAVA_SAMPLES
    timeout_s: float = 300.0


def _batches(count: int, size: int) -> Iterator[slice]:
    return (slice(start, min(start + size, count)) for start in range(0, count, size))


def prepare(checkpoint: str | os.PathLike, out: str | os.PathLike, *, samples: int | None = None,
            data_dir: str | None = None, cache_dir: str | None = None) -> ExportJob:
    """Quantize the checkpoint, write ir/ (+ netx), run the float and quantized PyTorch model on `samples`
    test samples spread evenly over the test split (default: all of it), save them.

    The PyTorch runs use the GPU when there is one (`SpikingNet.run` on CUDA is the fast path's chip-timed
    run, spike-identical to SLAYER's CPU reference; tests/test_fast_cuba.py), in batches sized from its free
    memory, the spike digests computed there; else SLAYER on the CPU."""
    # the trained model and its data: only export needs them (`run` reads samples.npz)
    from .bridge import float_weights, graded_frames, load_quantized, reference_tensors, test_set

    model, ckpt, net = load_quantized(checkpoint)
    device = pick_device("auto")
    model.to(device)
    out = Path(out)
    net.save(out / IR_DIR)
    if sequential_problem(net) is None:
        write_netx(net, out / NETX_FILE)
    dataset = test_set(ckpt, data_dir, cache_dir)
    count = len(dataset) if samples is None else min(samples, len(dataset))
    picks = np.unique(np.linspace(0, len(dataset) - 1, count).astype(int))
    frames, labels, float_pred, records = [], [], [], []
    with progress_bar() as progress:
        task = progress.add_task("PyTorch reference", total=len(picks))
        for part in _batches(len(picks), _reference_batch(net, device)):
            rows = torch.from_numpy(picks[part])
            x = dataset.events(rows)  # the event sequences alone: no RGB is paired
            labels.extend(dataset.labels[rows].tolist())
            frames.append(graded_frames(model, x).astype(np.uint8))
            x = x.to(device)
            records.append(SpikeRecord.from_layers(net, reference_tensors(model, x)))
            with torch.no_grad(), float_weights(model):
                float_pred.append(predict_counts(model.run(x)[0][model.output].cpu().numpy(), net.latency()))
            progress.advance(task, len(rows))
    job = ExportJob(net=net, out=out, frames=np.concatenate(frames), labels=np.array(labels),
                    float_pred=np.concatenate(float_pred), quantized=SpikeRecord.concat(records))
    write_npz(out / SAMPLES_FILE, {"frames": job.frames, "labels": job.labels, "float_pred": job.float_pred,
                                   **job.quantized.to_arrays("ref")})
    return job


def _reference_batch(net: Network, device: torch.device) -> int:
    """Samples per reference pass: `REFERENCE_BATCH` on CPU; on a GPU as many as fit in half its free memory
    (a whole test set in a few passes)."""
    if device.type == "cpu":
        return REFERENCE_BATCH
    free = free_gpu_bytes(device)
    spikes = net.steps_per_sample() * sum(lay.num_neurons for lay in net.layers)
    return max(REFERENCE_BATCH, free // 2 // (REFERENCE_BYTES_PER_SPIKE * spikes))


def load_job(directory: str | os.PathLike) -> ExportJob:
    """An earlier export folder back as a job (for `tmkt-deploy run`)."""
    directory = Path(directory)
    path = directory / SAMPLES_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found; run `tmkt-deploy export` into {directory} first")
    net = Network.load(directory / IR_DIR)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    if "ref/output" not in arrays:
        raise ValueError(f"{path}: written by an older tmkt-deploy (no spike record); export again")
    try:
        quantized = SpikeRecord.from_arrays(arrays, "ref")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return ExportJob(net=net, out=directory, frames=arrays["frames"],
                     labels=arrays["labels"], float_pred=arrays["float_pred"], quantized=quantized)


def run_emulator(job: ExportJob) -> tuple[SpikeRecord, dict[str, np.ndarray], ActivityRecord]:
    """The emulator on every sample, in one call (its batches, sized for the device, bound the memory; only
    output spikes, counts, digests and the per-neuron energy sums reach the host): its spike record, spikes
    per sample per layer (tail included) and the per-neuron counts exact energy needs."""
    net = job.net
    result = emulate(net, job.frames, record=[net.output], digests=True, activity=True,
                     device=pick_device("auto"), progress=True)
    activity = ActivityRecord.from_emulation(net, [result])
    return SpikeRecord(result.layer_spikes[net.output], result.layer_digests), result.spike_counts, activity


def run_lava(job: ExportJob, target: str) -> SpikeRecord:
    """Lava (`target`: loihi2-sim or lava-cpu) on the first `lava_samples` samples, every layer recorded."""
    # Lava is imported here, not at module load: the emulator, ONNX and NIR paths must work where lava-nc
    # cannot import (it needs Python 3.10; a GPU box may have 3.12).
    from .lava.simulate import simulate

    frames = job.frames[:job.lava_samples]
    with progress_bar() as progress:
        task = progress.add_task(f"Lava {target}", total=len(frames))
        spikes = simulate(job.net, frames, target=target, timeout_s=job.timeout_s,
                          on_sample=lambda _k: progress.advance(task))
    return SpikeRecord.from_layers(job.net, spikes)


def write_nir_file(job: ExportJob) -> tuple[dict, SpikeRecord | None]:
    """network.nir, then that file as a user runs it: read back with `nir.read` and simulated by snnTorch's
    importer over every sample, its output spikes shifted by the IR latency (NIR has none) for comparison with
    the emulator. Where snnTorch cannot import the graph (biases, padded pools) the reason goes into
    check.json and the check is not exact: nothing was run."""
    import nir

    from .interop.nir_export import write_nir
    from .interop.nir_run import client_version, run_client

    write_nir(job.net, job.out / NIR_FILE)
    graph = nir.read(job.out / NIR_FILE)
    files: dict = {"nir": NIR_FILE, "nir_nodes": len(graph.nodes), "nir_edges": len(graph.edges),
                   "nir_client": client_version("snntorch")}
    latency = job.net.latency()
    try:
        theirs = run_client(graph, job.frames, job.net.time_steps, "snntorch")
    except Exception as exc:  # noqa: BLE001 - any importer failure is reported, not raised
        files["nir_client_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return files, None
    shifted = np.zeros((*theirs.shape[:-1], job.net.steps_per_sample()), dtype=np.uint8)
    shifted[..., latency:] = theirs
    return files, SpikeRecord.from_layers(job.net, {job.net.output: shifted})


def _chunk(net: Network) -> int:
    """Samples per ONNX pass so that every layer's spikes of a chunk stay within CHUNK_SPIKES."""
    return max(1, CHUNK_SPIKES // (net.steps_per_sample() * sum(lay.num_neurons for lay in net.layers)))


def run_onnx_file(job: ExportJob) -> tuple[dict, SpikeRecord | None]:
    """network.onnx, run with onnxruntime over every sample: its output spikes, for comparison."""
    from .interop.onnx_export import write_onnx
    from .interop.onnx_run import OnnxStepRunner

    write_onnx(job.net, job.out / ONNX_FILE)
    runner = OnnxStepRunner(job.out / ONNX_FILE)  # one session for all chunks
    outputs = []
    with progress_bar() as progress:
        task = progress.add_task("onnxruntime", total=len(job.frames))
        for part in _batches(len(job.frames), _chunk(job.net)):
            outputs.append(runner(job.frames[part]))
            progress.advance(task, part.stop - part.start)
    return {"onnx": ONNX_FILE}, SpikeRecord.from_layers(job.net, {job.net.output: np.concatenate(outputs)})


Interop = Callable[[ExportJob], tuple[dict, SpikeRecord | None]]


def check_target(job: ExportJob, target: str, *, lava: str | None = None,
                 interop: Interop | None = None) -> CheckResult:
    """Emulator on all samples, optionally Lava (`lava` target) on the first few and an interop file; every
    comparison, both JSON files. The emulator is compared with Lava only for Lava's fixed-point models."""
    emulated, counts, activity = run_emulator(job)
    comparisons = {"emulator_vs_quantized": agreement(job.net, emulated, job.quantized)}
    lava_pred, files, record = None, {}, None
    lava_samples = min(job.lava_samples, len(job.frames)) if lava else 0
    if lava_samples:
        lava_record = run_lava(job, lava)
        comparisons["lava_vs_quantized"] = agreement(job.net, lava_record, job.quantized.head(lava_samples))
        if lava == "loihi2-sim":
            comparisons["emulator_vs_lava"] = agreement(job.net, emulated.head(lava_samples), lava_record)
        lava_pred = predict_counts(lava_record.output, job.net.latency())
    if interop is not None:
        files, record = interop(job)
        if record is not None:
            comparisons[f"{target}_vs_emulator"] = agreement(job.net, record, emulated)
    unchecked = target == "nir" and record is None  # the NIR client could not run the file
    latency = job.net.latency()
    quant_pred, deployed_pred = (predict_counts(r.output, latency) for r in (job.quantized, emulated))
    result = CheckResult(
        target=target, samples=len(job.frames), lava_samples=lava_samples, time_steps=job.net.time_steps,
        latency=latency, exact=not unchecked and all(c.exact for c in comparisons.values()),
        agreement=comparisons["emulator_vs_quantized"].prediction_agreement,
        accuracy={"float": accuracy(job.float_pred, job.labels),
                  "quantized": accuracy(quant_pred, job.labels),
                  "deployed": accuracy(deployed_pred, job.labels), "lava": accuracy(lava_pred, job.labels)},
        comparisons=comparisons,
        predictions={"label": job.labels.tolist(), "float": job.float_pred.tolist(),
                     "quantized": quant_pred.tolist(), "deployed": deployed_pred.tolist(),
                     "lava": [] if lava_pred is None else lava_pred.tolist()},
        files=files)
    write_json(result.to_json(), job.out / CHECK_FILE)
    write_json(spike_summary(job.net, job.frames, counts, target=target), job.out / SPIKES_FILE)
    activity.save(job.out / ACTIVITY_FILE)
    return result


def _loihi2(job: ExportJob) -> CheckResult:
    """The IR (and netx) files are the export; hardware runs need Intel's lava-loihi."""
    from .lava.simulate import loihi_missing

    written = [f"{IR_DIR}/", *([NETX_FILE] if sequential_problem(job.net) is None else [])]
    reason = loihi_missing() or "Running on Loihi 2 hardware from tmkt is not built yet."
    raise TargetUnavailable(f"{reason} Written for an INRC system: {' and '.join(written)} in the export "
                            "folder.")


TARGETS: dict[str, Callable[[ExportJob], CheckResult]] = {
    "loihi2-sim": lambda job: check_target(job, "loihi2-sim", lava="loihi2-sim"),
    "lava-cpu": lambda job: check_target(job, "lava-cpu", lava="lava-cpu"),
    "loihi2": _loihi2,
    "nir": lambda job: check_target(job, "nir", interop=write_nir_file),
    "onnx": lambda job: check_target(job, "onnx", interop=run_onnx_file),
}


def _check_options(target: str, samples: int | None, lava_samples: int) -> None:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {sorted(TARGETS)}")
    if samples is not None and samples < 1:
        raise ValueError(f"--samples must be at least 1, got {samples}")
    if lava_samples < 0:
        raise ValueError(f"--lava-samples must be 0 or more, got {lava_samples}")


def export_checkpoint(checkpoint: str | os.PathLike, *, target: str, out: str | os.PathLike,
                      samples: int | None = None, lava_samples: int = DEFAULT_LAVA_SAMPLES,
                      data_dir: str | None = None, cache_dir: str | None = None,
                      timeout_s: float = 300.0) -> CheckResult:
    """The whole `tmkt-deploy export`: files in `out` (all of them or, on failure, none), the check result
    back. `loihi2` keeps its files although it raises TargetUnavailable: they are what it exports."""
    _check_options(target, samples, lava_samples)
    with staged_folder(out, EXPORT_FILES, keep=(TargetUnavailable,)) as stage:
        job = prepare(checkpoint, stage, samples=samples, data_dir=data_dir, cache_dir=cache_dir)
        job.lava_samples, job.timeout_s = lava_samples, timeout_s
        return TARGETS[target](job)


def rerun(directory: str | os.PathLike, *, target: str = "loihi2-sim",
          lava_samples: int = DEFAULT_LAVA_SAMPLES, timeout_s: float = 300.0) -> CheckResult:
    """`tmkt-deploy run`: check an export folder again on `target` (same IR, same saved samples); its new
    check files replace the old ones only when the check finished."""
    _check_options(target, None, lava_samples)
    job = load_job(directory)
    job.lava_samples, job.timeout_s = lava_samples, timeout_s
    with staged_folder(directory, CHECK_FILES, keep=(TargetUnavailable,)) as stage:
        job.out = stage
        return TARGETS[target](job)
