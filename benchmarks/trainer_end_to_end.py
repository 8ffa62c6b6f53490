"""The real trainer (`tmkt-train fit`'s loop: TMKT losses, heads, CKA, data, optimiser) end to end, with its
batches gathered from the frame store (`StoreBatches`, the default) or collated by a per-item DataLoader over
host frames (the trainer before that change), in one process so the ratio is fair.

    python benchmarks/trainer_end_to_end.py                      # VGGSNN, ndigits 48x48 T=10, B=128, 4 epochs

Prints one JSON line per run: train seconds per epoch (synchronised, evaluation excluded), samples/s after the
first epoch (each sample is an RGB/DVS pair, i.e. two sequences through the net), and the accuracies, which
must be equal across the two ways (same batches, same random stream).
"""

from __future__ import annotations

import json
import tempfile
import time

import torch
import typer
from torch.utils.data import DataLoader

import tmkt_train.train.trainer as trainer
from tmkt_common.device import pick_device
from tmkt_train.config import TrainConfig
from tmkt_train.data.build import build_datasets


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(cfg: TrainConfig, batches: str, device: torch.device) -> dict:
    """Train `cfg` with `batches` = "gathered" or "dataloader"; seconds per epoch of the training loop."""
    place, epoch_batches, train_epoch = trainer.place_frames, trainer.epoch_batches, trainer.train_epoch
    times: list[float] = []

    def timed(*args, **kwargs):
        _sync(device)
        start = time.perf_counter()
        result = train_epoch(*args, **kwargs)
        _sync(device)
        times.append(time.perf_counter() - start)
        return result

    trainer.train_epoch = timed
    if batches == "dataloader":
        trainer.place_frames = lambda data, _device: data
        trainer.epoch_batches = lambda data, sampler, size, _w, _d: DataLoader(data, size, sampler=sampler)
    try:
        train, test = build_datasets(cfg.data, cfg.seed)
        with tempfile.TemporaryDirectory() as out:
            lines = trainer.fit(cfg, out, train_set=train, test_set=test, device=device.type)
    finally:
        trainer.place_frames, trainer.epoch_batches, trainer.train_epoch = place, epoch_batches, train_epoch
    return {"batches": batches, "train_samples": len(train), "epoch_train_s": [round(t, 3) for t in times],
            "samples_per_s_after_first": round(len(train) * (len(times) - 1) / sum(times[1:]), 1),
            "train_acc": [line["train_acc"] for line in lines],
            "test_acc": [line["test_acc"] for line in lines]}


def main(
    backbone: str = typer.Option("vggsnn"),
    width: float = typer.Option(1.0),
    batch_size: int = typer.Option(128),
    epochs: int = typer.Option(4, help="at least 2: the first epoch (warm-up) is not timed"),
    repeats: int = typer.Option(2, help="runs of each way, alternating"),
    device: str = typer.Option("auto"),
) -> None:
    """Samples/s of the trainer with gathered vs DataLoader batches."""
    cfg = TrainConfig(method="tmkt")
    cfg.model.backbone, cfg.model.width = backbone, width
    cfg.optim.batch_size, cfg.optim.epochs, cfg.optim.lr_per_1024 = batch_size, epochs, 0.03
    where = pick_device(device)
    for _ in range(repeats):
        for batches in ("dataloader", "gathered"):
            print(json.dumps(measure(cfg, batches, where)), flush=True)


if __name__ == "__main__":
    typer.run(main)
