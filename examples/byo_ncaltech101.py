"""Bring your own N-Caltech101: train VGGSNN with TMKT on your copy, deploy it to loihi2-sim, report energy.

    python examples/byo_ncaltech101.py --data-dir /data/ncaltech --out runs/ncaltech101

`--data-dir` holds `N-Caltech101/<class>/*.bin` (the ATIS recordings) and the Caltech101 images
(`Caltech101/101_ObjectCategories/<class>/*.jpg`, as torchvision extracts them); the layout and the class
alignment are documented in tmkt_train/data/ncaltech101.py. Nothing is downloaded. Frames are 48×48, T=10
(the TMKT paper's setting); `--dvs-fraction 0.1` trains with a tenth of the recordings (all images kept).
The same run as commands: `tmkt-train fit --dataset ncaltech101 --data-dir DIR --backbone vggsnn`, then
`tmkt-deploy export` and `tmkt-deploy report`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from tmkt_common.cli import fail
from tmkt_sweep.pipeline import report_and_print, train_and_deploy
from tmkt_train.config import TrainConfig

LAYOUT = "N-Caltech101/<class>/*.bin and Caltech101/101_ObjectCategories/<class>/*.jpg"


def main(data_dir: Path = typer.Option(..., "--data-dir", help=f"Your dataset folder: {LAYOUT}."),
         out: Path = typer.Option(Path("runs/ncaltech101"), "--out", help="Output folder."),
         epochs: int = typer.Option(30, help="Training epochs."),
         width: float = typer.Option(1.0, help="VGGSNN width (1.0: 64..512 channels)."),
         dvs_fraction: float = typer.Option(1.0, "--dvs-fraction", help="Share of recordings used."),
         device: str = typer.Option("auto", help="auto, cpu or cuda."),
         lava_samples: int = typer.Option(4, "--lava-samples", help="Test samples Lava simulates.")) -> None:
    """Train VGGSNN (TMKT) on N-Caltech101 + Caltech101 images → loihi2-sim export with checks → report."""
    if not data_dir.is_dir():
        raise fail(f"--data-dir {data_dir}: not a directory; give the folder that holds {LAYOUT}")
    cfg = TrainConfig(method="tmkt")
    cfg.data.dataset, cfg.data.data_dir, cfg.data.dvs_fraction = "ncaltech101", str(data_dir), dvs_fraction
    cfg.model.backbone, cfg.model.width, cfg.optim.epochs = "vggsnn", width, epochs
    try:
        done = train_and_deploy(cfg, out / "vggsnn-tmkt", out / "deploy", device=device,
                                lava_samples=lava_samples)
    except (ValueError, RuntimeError, OSError) as exc:  # DatasetError is a ValueError naming the bad path
        raise fail(str(exc)) from exc
    report_and_print(done, out / "vggsnn-tmkt", out / "deploy", out / "report")


if __name__ == "__main__":
    typer.run(main)
