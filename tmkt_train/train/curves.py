"""A run's learning curves to look at: `curves.png` next to `metrics.jsonl`, optional TensorBoard scalars.

The trainer calls `write_curves` after a run's first and last epochs and every ~30 s between them, with
every metrics line so far; the picture is replaced atomically, so a crash or a reader never sees half a PNG.
matplotlib's object API (a `Figure`, no pyplot, no GUI backend) keeps it cheap and safe in worker processes.
`TensorBoardLog` writes the same scalars with torch's SummaryWriter (the `tensorboard` extra) for people who
watch runs there.
"""

from __future__ import annotations

import os
from pathlib import Path

from tmkt_common.atomic import atomic_write

CURVES = "curves.png"
TENSORBOARD_DIR = "tensorboard"
NOT_LOSSES = {"epoch", "lr", "train_acc", "dvs_ratio", "spikes_per_sample", "seconds", "energy_uj", "step",
              "teacher_train_acc"}  # bookkeeping: a step count in the hundreds would flatten the losses
ACCURACIES = ("train_acc", "val_acc", "test_acc")
SPIKES = ("spikes_per_sample", "val_spikes_per_sample", "test_spikes_per_sample")


def scalars(line: dict) -> dict[str, float]:
    """The numeric entries of a metrics line (not `phase`)."""
    return {k: float(v) for k, v in line.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def loss_terms(history: list[dict]) -> list[str]:
    """Loss terms of these lines: numbers that are not accuracies, spike counts, rates or bookkeeping."""
    keys = {k for line in history for k in scalars(line)}
    return sorted(k for k in keys if k not in NOT_LOSSES and not k.startswith(("test_", "val_")))


def _panel(ax, history: list[dict], keys: tuple[str, ...] | list[str], title: str) -> None:
    for key in keys:
        points = [(line["epoch"] + 1, line[key]) for line in history if key in line]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", markersize=3, label=key)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7)


def curves_figure(history: list[dict]):
    """Loss terms, accuracies (train/val/test), spikes per sample, DVS ratio and learning rate per epoch
    (and energy per sample when the run has an energy term), one panel each."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    _panel(axes[0], history, loss_terms(history), "loss terms")
    _panel(axes[1], history, ACCURACIES, "accuracy (val/test on events)")
    _panel(axes[2], history, SPIKES, "spikes per sample")
    _panel(axes[3], history, ("dvs_ratio",), "DVS ratio of the training input")
    _panel(axes[4], history, ("lr",), "learning rate")
    _panel(axes[5], history, ("energy_uj",), "energy per sample (µJ)")
    if not axes[5].lines:
        axes[5].set_visible(False)
    return fig


def write_curves(history: list[dict], path: str | os.PathLike) -> Path:
    """`curves_figure` as a PNG at `path`, written atomically."""
    path = Path(path)
    with atomic_write(path) as f:
        curves_figure(history).savefig(f, format="png", dpi=90)
    return path


class TensorBoardLog:
    """The scalars of each metrics line as TensorBoard events in `run_dir/tensorboard` (step = epoch)."""

    def __init__(self, run_dir: str | os.PathLike):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # torch raises this when the tensorboard package is missing
            raise ValueError("--tensorboard needs the tensorboard package: pip install 'tmkt[tensorboard]'") \
                from exc
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))

    def __call__(self, line: dict) -> None:
        for key, value in scalars(line).items():
            if key != "epoch":
                self.writer.add_scalar(key, value, int(line["epoch"]) + 1)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
