"""One grid run end to end: train → export to loihi2-sim (checks) → energy on Loihi 2 → runs/NAME/result.json.

Every stage is the project's own (trainer.fit, tmkt_deploy.export_checkpoint, the energy report's
build_report); this module only chains them and records what a reader of the table needs to trust a number:
seed, hardware, command, config, epochs and wall times. `result.json` is written last and atomically, so its
presence means the run is complete and a rerun skips it; a run interrupted while training resumes from its
checkpoint.

Where Lava does not import (pipeline.lava_unavailable), the result says Lava was skipped and why; the
deployed accuracy always comes from the bit-exact emulator over the whole test set. A run with a validation
split records which epoch was chosen and its validation score (`selection`, the trainer's final.json); a
recipe-search run (`deploy = False`) records only that: it is trained and selected, never tested.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import shutil
import sys
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from tmkt_common.atomic import write_json
from tmkt_common.device import GPU_SHARE_ENV, pick_device
from tmkt_train.config import TrainConfig, flat
from tmkt_train.train.selection import chosen_checkpoint, read_final

from .grid import RESULT, Reference, RunSpec
from .pipeline import train_and_deploy, train_only
from .table import read_result

LOG = "log.txt"  # a pool run's output
RESULT_FORMAT = "tmkt-sweep-result"
ENERGY_PROFILE = "loihi2"


def result_path(out_dir: str | os.PathLike, spec: RunSpec) -> Path:
    return Path(out_dir) / "runs" / spec.name / RESULT


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else (platform.processor() or platform.machine())


def hardware(device: torch.device) -> dict:
    """What the run trained on, in words a reader can compare."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {"device": device.type, "name": name, "host_cpus": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version()}


def energy_of_deployment(deploy_dir: Path) -> dict:
    """Spikes per sample and energy per inference of the exported network, by the energy report itself:
    the headline on Loihi 2 (isolated schedule), every registered profile under both schedules, the firing
    rates per layer, and `train_energy_uj` (Loihi 2, streaming: the number training's energy term sees)."""
    from tmkt_deploy.energy import list_profiles, load_profile
    from tmkt_deploy.report import build_report, load_export_run

    profiles = [load_profile(name) for name in list_profiles()]
    backbone = build_report([load_export_run(deploy_dir)], profiles)["backbones"][0]
    energy = backbone["energy_j"][ENERGY_PROFILE]
    return {"spikes_per_sample": backbone["spikes_per_sample"], "synops": backbone["synops"],
            "energy_j": energy["total"], "energy_breakdown_j": energy["breakdown"],
            "steps": backbone["steps"], "latency_steps": backbone["latency_steps"], "profile": ENERGY_PROFILE,
            "firing_rates": backbone["firing_rates"],
            "energy_by_profile_j": {p.name: {s: v["energy_j"][p.name]["total"]
                                             for s, v in backbone["schedules"].items()} for p in profiles},
            "train_energy_uj": backbone["schedules"]["streaming"]["energy_j"][ENERGY_PROFILE]["total"] * 1e6}


def reference_of(out_dir: str | os.PathLike, spec: RunSpec) -> Reference | None:
    """`spec`'s unregularised reference run's energy and deployed checkpoint (None: not budgeted, or no
    result yet)."""
    if spec.reference is None:
        return None
    path = result_path(out_dir, spec.reference)
    if not path.exists():
        return None
    checkpoint = chosen_checkpoint(path.parent / "train").resolve()
    return Reference(read_result(path)["train_energy_uj"], str(checkpoint))


def run_one(spec: RunSpec, out_dir: str | os.PathLike, *, device: str = "auto", lava_samples: int = 4,
            command: str | None = None) -> dict:
    """Train, export, check and estimate `spec` into OUT/runs/NAME; returns the result document."""
    run_dir = Path(out_dir) / "runs" / spec.name
    cfg = spec.config(reference_of(out_dir, spec))
    dev = pick_device(device)
    result = {
        "format": RESULT_FORMAT, "version": 1,
        "name": spec.name, "group": spec.group, "studies": list(spec.studies),
        "backbone": spec.backbone, "method": spec.method, "variant": spec.variant,
        "dvs_fraction": spec.dvs_fraction, "seed": spec.seed, "settings": asdict(spec.settings),
        "budget_fraction": spec.budget, "energy_budget_uj": cfg.loss.energy_budget_uj,
        "config": asdict(cfg), "command": command or " ".join([Path(sys.executable).name, *sys.argv]),
        "hardware": hardware(dev),
    }
    if not spec.deploy:
        history, train_s = train_only(cfg, run_dir / "train", device=dev.type)
        result.update(epochs=len(history), selection=read_final(run_dir / "train"),
                      wall_s={"train": train_s, "total": train_s})
    else:
        done = train_and_deploy(cfg, run_dir / "train", run_dir / "deploy", device=dev.type,
                                lava_samples=lava_samples)
        check, selection = done.check, read_final(run_dir / "train")
        scored = selection or (done.history[-1] if done.history else {})  # the weights that were deployed
        result.update({
            "epochs": len(done.history), **({"selection": selection} if selection else {}),
            "accuracy": {**check.accuracy, "train_eval": scored.get("test_acc"),
                         "train_eval_top5": scored.get("test_top5")},
            "check": {"samples": check.samples, "exact": check.exact, "agreement": check.agreement,
                      "lava_samples": check.lava_samples, "lava": "ran" if check.lava_samples else "skipped",
                      "lava_skipped_reason": done.lava_skipped},
            **energy_of_deployment(run_dir / "deploy"),
            "wall_s": {"train": done.train_s, "export": done.export_s,
                       "total": round(done.train_s + done.export_s, 2)},
        })
    write_json(result, run_dir / RESULT)
    return result


def config_changes(saved: dict, spec: RunSpec, reference: Reference | None = None) -> list[str]:
    """Config keys whose saved value differs from what `spec` trains with now ("optim.epochs: 30 → 60").
    A key the saved config lacks (a knob added since) counts as its default: defaults keep old behaviour.
    `model.init_from` is where the reference's checkpoint lies, not a setting (the budget follows the
    reference's result), so a moved sweep folder is not trained again."""
    now = flat(json.loads(json.dumps(asdict(spec.config(reference)))))
    was = {**flat(json.loads(json.dumps(asdict(TrainConfig())))), **flat(saved)}
    return [f"{k}: {was.get(k)!r} → {now.get(k)!r}" for k in sorted(now.keys() | was.keys())
            if was.get(k) != now.get(k) and k != "model.init_from"]


def unfinished_changes(run_dir: Path, spec: RunSpec, reference: Reference | None) -> list[str]:
    """config_changes of an interrupted run's training (no result yet) against `spec`: a grid run resumes
    only what it would train from scratch (the trainer's --resume rules would allow more epochs)."""
    from tmkt_train.train.run_folder import recorded_config

    recorded = recorded_config(run_dir / "train")
    return [] if recorded is None else config_changes(json.loads(json.dumps(asdict(recorded[0]))), spec,
                                                      reference)


def _announce(console, result: dict) -> None:
    if "accuracy" not in result:
        sel = result["selection"]
        console.print(f"{result['name']}: val {sel['val_acc']:.3f} at epoch {sel['epoch'] + 1} "
                      f"(selection only) | {result['wall_s']['total']:.0f} s")
        return
    acc = result["accuracy"]
    console.print(f"{result['name']}: float {acc['float']:.3f} deployed {acc['deployed']:.3f} | "
                  f"{result['spikes_per_sample']:,.0f} spikes | {result['energy_j'] * 1e6:.3g} µJ on loihi2"
                  f" | {result['wall_s']['total']:.0f} s")


def _run_logged(spec: RunSpec, out_dir: str | os.PathLike, device: str, lava_samples: int,
                command: str | None, threads: int, jobs: int) -> dict:
    """`run_one` in a pool process: its share of the CPU threads and of the GPU's memory (batch sizing:
    tmkt_common.device.free_gpu_bytes), its output in runs/NAME/log.txt (the runs of a pool would otherwise
    interleave on one terminal)."""
    os.environ.setdefault(GPU_SHARE_ENV, str(1 / jobs))  # a share set by the caller wins
    # Lava's message infrastructure sets the start method (fork) when imported and fails if one is set, as
    # it is in a spawned worker: unset it.
    multiprocessing.set_start_method(None, force=True)
    torch.set_num_threads(threads)
    log = Path(out_dir) / "runs" / spec.name / LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    try:
        return run_one(spec, out_dir, device=device, lava_samples=lava_samples, command=command)
    finally:
        sys.stdout.flush(), sys.stderr.flush()


@contextmanager
def _start_method_kept():
    """Leaves this process's multiprocessing start method as it was: starting a spawned child fixes it as a
    side effect (the stdlib's spawn.get_preparation_data asks get_start_method()), and Lava, imported later
    in this process (an export after the sweep), sets its own and fails with "context has already been
    set"."""
    before = multiprocessing.get_start_method(allow_none=True)
    try:
        yield
    finally:
        if before is None:
            multiprocessing.set_start_method(None, force=True)


class _Queue:
    """The grid's runs in order, each released once its reference (if it is in the grid) has finished,
    so a budgeted run starts as soon as its own reference is done rather than after every reference."""

    def __init__(self, runs: list[RunSpec], out_dir: str | os.PathLike, console, done: dict[str, list[str]]):
        self.waiting, self.running = list(runs), set()
        self.out_dir, self.console, self.done = out_dir, console, done

    def ready(self) -> list[RunSpec]:
        """Runs whose reference is neither waiting nor running, less those already up to date (which
        release their own dependents at once); [] once nothing is left to start."""
        todo: list[RunSpec] = []
        while not todo:
            blocked = {spec.name for spec in self.waiting} | self.running
            free = [s for s in self.waiting if s.reference is None or s.reference.name not in blocked]
            if not free:
                break
            self.waiting = [s for s in self.waiting if s not in free]
            todo = [s for s in free if not _up_to_date(s, self.out_dir, self.console, self.done)]
        self.running.update(s.name for s in todo)
        return todo

    def finished(self, spec: RunSpec) -> None:
        """`spec` ran (or failed): its dependents may start."""
        self.running.discard(spec.name)


def _run_pool(queue: _Queue, out_dir: str | os.PathLike, *, device: str, lava_samples: int,
              command: str | None, jobs: int, console) -> tuple[list[str], list[str]]:
    """The queue's runs over `jobs` spawned processes (small nets leave a GPU mostly idle: several runs
    share it); returns the names that finished and the failures. A failed run does not stop the others."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // jobs)
    ran, failed, futures = [], [], {}
    spawn = multiprocessing.get_context("spawn")
    console.print(f"up to {jobs} runs at once ({threads} CPU threads each); "
                  f"logs in {Path(out_dir) / 'runs'}/NAME/{LOG}")
    with _start_method_kept(), ProcessPoolExecutor(jobs, mp_context=spawn) as pool:
        while True:
            for spec in queue.ready():
                job = pool.submit(_run_logged, spec, out_dir, device, lava_samples, command, threads, jobs)
                futures[job] = spec
            if not futures:
                return ran, failed
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                spec = futures.pop(future)
                queue.finished(spec)
                try:
                    _announce(console, future.result())
                    ran.append(spec.name)
                except Exception as exc:  # noqa: BLE001 -- reported at the end with the run's log
                    failed.append(f"{spec.name} ({type(exc).__name__}: {exc}; see runs/{spec.name}/{LOG})")
                    console.print(f"[red]{failed[-1]}[/]")


def _up_to_date(spec: RunSpec, out_dir: str | os.PathLike, console, done: dict[str, list[str]]) -> bool:
    """Whether `spec` has a result trained with its current settings (listed in done["skipped"]); a result
    or an unfinished training with other settings is deleted, to be trained again."""
    path = result_path(out_dir, spec)
    reference = reference_of(out_dir, spec)
    if spec.budget and reference is None:  # its reference failed: it fails too, naming it (run_one)
        return False
    if path.exists():
        changed = config_changes(read_result(path)["config"], spec, reference)
        if not changed:
            done["skipped"].append(spec.name)
            return True
        console.print(f"[yellow]{spec.name}: its result was trained with other settings "
                      f"({', '.join(changed)}); deleting {path.parent} and training it again[/]")
        shutil.rmtree(path.parent)
    elif changed := unfinished_changes(path.parent, spec, reference):
        console.print(f"[yellow]{spec.name}: its unfinished training used other settings "
                      f"({', '.join(changed)}); deleting {path.parent} and training it again[/]")
        shutil.rmtree(path.parent)
    return False


def run_grid(runs: list[RunSpec], out_dir: str | os.PathLike, *, device: str = "auto", lava_samples: int = 4,
             command: str | None = None, jobs: int = 1) -> dict[str, list[str]]:
    """Every run of `runs` without an up-to-date result, one at a time or over `jobs` processes; a budgeted
    run after its unregularised reference (it needs that result). Returns the names run and skipped; failed
    runs do not stop the others and are raised together at the end."""
    from tmkt_common.cli import make_console

    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    console = make_console(stderr=True)
    done: dict[str, list[str]] = {"ran": [], "skipped": []}
    queue = _Queue(runs, out_dir, console, done)
    if jobs > 1:
        ran, failed = _run_pool(queue, out_dir, device=device, lava_samples=lava_samples, command=command,
                                jobs=jobs, console=console)
        done["ran"] += ran
    else:
        failed = []
        while todo := queue.ready():
            for spec in todo:
                console.rule(f"[bold]{spec.name}[/] ({len(done['ran']) + 1})")
                _announce(console, run_one(spec, out_dir, device=device, lava_samples=lava_samples,
                                           command=command))
                queue.finished(spec)
                done["ran"].append(spec.name)
    if done["skipped"]:
        console.print(f"skipped {len(done['skipped'])} run(s) with an up-to-date result.json")
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed: " + "; ".join(failed))
    return done
