"""Quickstart (what `make demo` runs): train → deploy to Loihi 2 (simulated) → spike check → energy report.

    python examples/quickstart.py --out runs/demo

1. trains a small SCNN with TMKT on the embedded `ndigits` dataset (all RGB images, 10 % of the DVS
   recordings), on CPU in a few minutes;
2. exports it to `loihi2-sim`: the integer IR + netx file, Lava's bit-accurate fixed-point simulation on 4
   test samples, and the batched emulator (which must reproduce Lava spike for spike) on the whole test set;
3. writes the energy/accuracy report for Loihi 2, Loihi 1 and a 45 nm ANN accelerator.
A second run with the same --out reuses the finished checkpoint (training resumes where it stopped).
The same steps as commands: `tmkt-train fit`, `tmkt-deploy export --target loihi2-sim`, `tmkt-deploy report`.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import typer

from tmkt_sweep.pipeline import report_and_print, train_and_deploy
from tmkt_train.config import TrainConfig


def demo_config(epochs: int) -> TrainConfig:
    """Small enough for one CPU core: SCNN at half width on 32×32 frames, batch 16 (~60 s of training)."""
    cfg = TrainConfig(method="tmkt", seed=0)
    cfg.data.dataset, cfg.data.size, cfg.data.dvs_fraction = "ndigits", 32, 0.1
    cfg.model.backbone, cfg.model.width = "scnn", 0.5
    cfg.optim.epochs, cfg.optim.batch_size = epochs, 16
    cfg.loss.cls_mode = "tet-spikes"  # SCNN learns best from its output spikes (README: method comparison)
    return cfg


def main(out: Path = typer.Option(Path("runs/demo"), "--out", help="Folder: scnn-tmkt/, deploy/, report/."),
         epochs: int = typer.Option(15, help="Training epochs."),
         lava_samples: int = typer.Option(4, "--lava-samples", help="Test samples Lava simulates.")) -> None:
    """Train, export to loihi2-sim with spike checks, and report energy; prints where every file is."""
    torch.set_num_threads(1)  # a light guest on shared machines; the demo is sized for one core
    started = time.time()
    done = train_and_deploy(demo_config(epochs), out / "scnn-tmkt", out / "deploy", device="cpu",
                            lava_samples=lava_samples)
    report_and_print(done, out / "scnn-tmkt", out / "deploy", out / "report")
    print(f"quickstart done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    typer.run(main)
