"""FrameStore: a whole dataset framed once (both splits), kept in memory and saved as one `.npz` cache.

Framing events is the slow part of loading, so every loader builds a FrameStore once (reading each file,
with a progress bar) and `PairedDataset` only indexes into it. DVS frames are float16 (raw counts, resized),
RGB frames are the float16 V channel of the training images only (the pairing pool).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tmkt_common.errors import DatasetError
from tmkt_common.npz import write_npz

STORE_FORMAT = 1


@dataclass
class FrameStore:
    """Every DVS sample (train and test) as frames plus the training RGB pool, labelled by class index."""

    classes: list[str]
    dvs: torch.Tensor  # (N, 2, H, W, T) float16
    dvs_labels: torch.Tensor  # (N,) int64
    dvs_train: torch.Tensor  # (N,) bool: True for the training split
    rgb: torch.Tensor  # (M, H, W) float16, V channel in [0, 1]
    rgb_labels: torch.Tensor  # (M,) int64
    report: dict[str, Any] = field(default_factory=dict)  # e.g. which classes were matched or dropped

    def __post_init__(self) -> None:
        present = set(self.rgb_labels.tolist())
        missing = [self.classes[c] for c in sorted(set(self.dvs_labels.tolist()) - present)]
        if missing:
            raise DatasetError(f"classes with event samples but no training image to pair with: {missing}")

    def save(self, path: Path) -> None:
        """One `.npz`, written atomically so a crash never leaves a cache that looks complete."""
        write_npz(path, {"format": STORE_FORMAT, "classes": np.array(self.classes),
                         "report": json.dumps(self.report),
                         **{name: getattr(self, name).numpy() for name in _TENSORS}})

    @property
    def frame_bytes(self) -> int:
        """Memory the frames take (DVS and RGB), to decide whether a device can hold them."""
        return sum(t.numel() * t.element_size() for t in (self.dvs, self.rgb))

    def on(self, device: torch.device | str) -> FrameStore:
        """A copy whose frames live on `device` (labels and split flags stay on the CPU for indexing)."""
        return replace(self, dvs=self.dvs.to(device), rgb=self.rgb.to(device))

    @classmethod
    def load(cls, path: Path) -> FrameStore:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != STORE_FORMAT:
                raise DatasetError(f"{path}: cache format {int(data['format'])}, expected {STORE_FORMAT}")
            return cls(
                classes=[str(c) for c in data["classes"]],
                report=json.loads(str(data["report"])),
                **{name: torch.from_numpy(data[name]) for name in _TENSORS},
            )


_TENSORS = ("dvs", "dvs_labels", "dvs_train", "rgb", "rgb_labels")


def progress(items: Iterable, description: str, total: int) -> Iterator:
    """A transient progress bar on stderr, so stdout stays clean for tables and JSON."""
    from tmkt_common.cli import progress as progress_bar

    with progress_bar() as bar:
        yield from bar.track(items, total=total, description=description)


def stack_store(
    classes: list[str],
    dvs: list[np.ndarray],
    dvs_labels: list[int],
    dvs_train: list[bool],
    rgb: list[np.ndarray],
    rgb_labels: list[int],
    report: dict[str, Any] | None = None,
) -> FrameStore:
    """Stack per-sample arrays (frames `(2,H,W,T)`, V channels `(H,W)`) into a FrameStore."""
    if not dvs:
        raise DatasetError("no event samples were found")
    return FrameStore(
        classes=list(classes),
        dvs=torch.from_numpy(np.stack(dvs).astype(np.float16)),
        dvs_labels=torch.tensor(dvs_labels, dtype=torch.int64),
        dvs_train=torch.tensor(dvs_train, dtype=torch.bool),
        rgb=torch.from_numpy(np.stack(rgb).astype(np.float16)),
        rgb_labels=torch.tensor(rgb_labels, dtype=torch.int64),
        report=report or {},
    )
