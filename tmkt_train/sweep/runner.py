"""One grid run end to end: train → export to loihi2-sim (checks) → energy on Loihi 2 → runs/NAME/result.json.

Every stage is the project's own (trainer.fit, tmkt_deploy.export_checkpoint, the energy report's
build_report); this module only chains them and records what a reader of the table needs to trust a number:
seed, hardware, command, config, epochs and wall times. `result.json` is written last and atomically, so its
presence means the run is complete and a rerun skips it; a run interrupted while training resumes from its
checkpoint.

Where Lava does not import (pipeline.lava_unavailable), the result says Lava was skipped and why; the
deployed accuracy always comes from the bit-exact emulator over the whole test set.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from ..atomic import atomic_write
from ..device import pick_device
from .grid import RunSpec
from .pipeline import train_and_deploy

RESULT = "result.json"
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


def energy_on_loihi2(deploy_dir: Path) -> dict:
    """Spikes per sample and energy per inference of the exported network, by the energy report itself."""
    from tmkt_deploy.energy import load_profile
    from tmkt_deploy.report import build_report, load_export_run

    backbone = build_report([load_export_run(deploy_dir)], [load_profile(ENERGY_PROFILE)])["backbones"][0]
    energy = backbone["energy_j"][ENERGY_PROFILE]
    return {"spikes_per_sample": backbone["spikes_per_sample"], "synops": backbone["synops"],
            "energy_j": energy["total"], "energy_breakdown_j": energy["breakdown"],
            "latency_steps": backbone["latency_steps"], "profile": ENERGY_PROFILE}


def run_one(spec: RunSpec, out_dir: str | os.PathLike, *, device: str = "auto", lava_samples: int = 4,
            command: str | None = None) -> dict:
    """Train, export, check and estimate `spec` into OUT/runs/NAME; returns the result document."""
    run_dir = Path(out_dir) / "runs" / spec.name
    cfg = spec.config()
    dev = pick_device(device)
    done = train_and_deploy(cfg, run_dir / "train", run_dir / "deploy", device=dev.type,
                            lava_samples=lava_samples)
    check = done.check
    result = {
        "format": RESULT_FORMAT, "version": 1,
        "name": spec.name, "group": spec.group, "studies": list(spec.studies),
        "backbone": spec.backbone, "method": spec.method, "variant": spec.variant,
        "dvs_fraction": spec.dvs_fraction, "seed": spec.seed, "settings": asdict(spec.settings),
        "epochs": len(done.history), "config": asdict(cfg),
        "command": command or " ".join([Path(sys.executable).name, *sys.argv]),
        "hardware": hardware(dev),
        "accuracy": {**check.accuracy, "train_eval": done.history[-1]["test_acc"] if done.history else None},
        "check": {"samples": check.samples, "exact": check.exact, "agreement": check.agreement,
                  "lava_samples": check.lava_samples, "lava": "ran" if check.lava_samples else "skipped",
                  "lava_skipped_reason": done.lava_skipped},
        **energy_on_loihi2(run_dir / "deploy"),
        "wall_s": {"train": done.train_s, "export": done.export_s,
                   "total": round(done.train_s + done.export_s, 2)},
    }
    with atomic_write(run_dir / RESULT, "w") as f:
        json.dump(result, f, indent=1)
    return result


def run_grid(runs: list[RunSpec], out_dir: str | os.PathLike, *, device: str = "auto", lava_samples: int = 4,
             command: str | None = None) -> dict[str, list[str]]:
    """Every run of `runs` whose result file is missing; returns the names run and skipped."""
    from rich.console import Console

    console = Console(stderr=True)
    done: dict[str, list[str]] = {"ran": [], "skipped": []}
    for i, spec in enumerate(runs, 1):
        path = result_path(out_dir, spec)
        if path.exists():
            done["skipped"].append(spec.name)
            epochs = json.loads(path.read_text())["epochs"]
            if epochs != spec.settings.epochs:
                console.print(f"[yellow]kept {path}: trained {epochs} epochs, not {spec.settings.epochs}; "
                              "delete it to retrain[/]")
            continue
        console.rule(f"[bold]{spec.name}[/] ({i}/{len(runs)})")
        result = run_one(spec, out_dir, device=device, lava_samples=lava_samples, command=command)
        done["ran"].append(spec.name)
        acc = result["accuracy"]
        console.print(f"{spec.name}: float {acc['float']:.3f} deployed {acc['deployed']:.3f} | "
                      f"{result['spikes_per_sample']:,.0f} spikes | "
                      f"{result['energy_j'] * 1e6:.3g} µJ on loihi2 | "
                      f"{result['wall_s']['total']:.0f} s")
    if done["skipped"]:
        console.print(f"skipped {len(done['skipped'])} run(s) with a result.json already")
    return done
