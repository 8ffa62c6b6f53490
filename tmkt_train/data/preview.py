"""A PNG showing, for a few samples, the RGB frame next to the event frames over time (ON red, OFF blue)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tmkt_common.atomic import atomic_write  # noqa: E402

from .paired import PairedDataset  # noqa: E402


def event_image(dvs_frame: np.ndarray) -> np.ndarray:
    """(2, H, W) OFF/ON counts → an RGB picture: ON in red, OFF in blue, each scaled to its own maximum."""
    off, on = (c / max(float(c.max()), 1e-6) for c in dvs_frame)
    return np.stack([on, np.zeros_like(on), off], axis=-1)


def write_preview(dataset: PairedDataset, path: str | Path, *, samples: int = 4, steps: int = 5) -> Path:
    """Rows: samples spread over the dataset; columns: RGB, then `steps` evenly spaced event frames."""
    count = min(samples, len(dataset))
    rows = np.linspace(0, len(dataset) - 1, count).round().astype(int)
    time_steps = dataset.geometry.time_steps
    columns = np.linspace(0, time_steps - 1, min(steps, time_steps)).round().astype(int)
    fig, axes = plt.subplots(count, len(columns) + 1, figsize=(1.6 * (len(columns) + 1), 1.7 * count),
                             squeeze=False)
    for row, index in zip(axes, rows, strict=True):
        rgb, dvs, label = dataset[int(index)]
        row[0].imshow(rgb[0, :, :, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        row[0].set_title(f"RGB · {dataset.classes[label]}", fontsize=7)
        for axis, t in zip(row[1:], columns, strict=True):
            axis.imshow(event_image(dvs[:, :, :, t].numpy()))
            axis.set_title(f"events t={t}", fontsize=7)
        for axis in row:
            axis.axis("off")
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path
