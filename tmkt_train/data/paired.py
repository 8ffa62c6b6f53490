"""PairedDataset: (RGB sequence, DVS sequence, label) items over a FrameStore, with class-level pairing.

Each kept DVS sample is paired with a training RGB image of the same class, drawn from a generator seeded by
(seed, epoch); `set_epoch(e)` re-draws. All frames were made when the store was built, so an item is
indexing plus a float cast, and `to_tensors` hands a trainer whole splits at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DatasetError
from .rgb import rgb_sequence
from .splits import keep_fraction
from .store import FrameStore

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Geometry:
    """Shape of one sequence in SLAYER layout: (channels, height, width, time_steps)."""

    channels: int
    height: int
    width: int
    time_steps: int


def check_view(split: str, dvs_fraction: float) -> None:
    """Reject a bad split name or fraction before any loading work is done."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {SPLITS}")
    if not 0.0 < dvs_fraction <= 1.0:
        raise DatasetError(f"dvs_fraction must be in (0, 1], got {dvs_fraction}")


def geometry_of(store: FrameStore) -> Geometry:
    channels, height, width, time_steps = store.dvs.shape[1:]
    return Geometry(int(channels), int(height), int(width), int(time_steps))


class _StoreView(Dataset):
    """What both dataset views share: the store, class names, geometry and per-class counts."""

    labels: torch.Tensor

    def __init__(self, store: FrameStore) -> None:
        self.store = store
        self.classes = store.classes
        self.geometry = geometry_of(store)

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels, minlength=len(self.classes)).tolist()
        return dict(zip(self.classes, counts, strict=True))


class PairedDataset(_StoreView):
    """Items `(rgb (2,H,W,T) float32, dvs (2,H,W,T) float32, label int)` over a split's kept DVS samples."""

    def __init__(self, store: FrameStore, split: str, *, dvs_fraction: float = 1.0, seed: int = 0) -> None:
        check_view(split, dvs_fraction)
        super().__init__(store)
        self.split = split
        self.seed = seed
        in_split = np.flatnonzero(store.dvs_train.numpy() == (split == "train"))
        if split == "train" and dvs_fraction < 1.0:
            in_split = in_split[keep_fraction(store.dvs_labels.numpy()[in_split], dvs_fraction, seed)]
        self.indices = torch.from_numpy(in_split)
        self.labels = store.dvs_labels[self.indices]
        rgb_labels = store.rgb_labels.numpy()
        self._pools = {int(c): np.flatnonzero(rgb_labels == c) for c in np.unique(rgb_labels)}
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Re-draw each sample's RGB partner (same class, training pool) from generator (seed, epoch)."""
        rng = np.random.default_rng([self.seed, epoch])
        labels = self.labels.numpy()
        partners = np.empty(len(labels), dtype=np.int64)
        for label, pool in self._pools.items():
            members = np.flatnonzero(labels == label)
            partners[members] = rng.choice(pool, size=len(members))
        self.partners = torch.from_numpy(partners)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        rgb = rgb_sequence(self.store.rgb[self.partners[i]].float(), self.geometry.time_steps)
        dvs = self.store.dvs[self.indices[i]].float()
        return rgb.contiguous(), dvs, int(self.labels[i])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The whole split for this epoch's pairing: rgb and dvs `(N,2,H,W,T)` float32, labels `(N,)` int64.

        `rgb` is a broadcast view over time and channels (no copy); index it before writing in place.
        """
        rgb = rgb_sequence(self.store.rgb[self.partners].float(), self.geometry.time_steps)
        return rgb, self.store.dvs[self.indices].float(), self.labels.clone()

    def rgb_only(self) -> RgbDataset:
        """All training RGB images as `(rgb, rgb, label)` items, for RGB pre-training."""
        return RgbDataset(self.store)


class RgbDataset(_StoreView):
    """Every training RGB image as an item `(seq, seq, label)`, the same layout as PairedDataset."""

    def __init__(self, store: FrameStore) -> None:
        super().__init__(store)
        self.labels = store.rgb_labels

    def set_epoch(self, epoch: int) -> None:
        """Nothing is drawn per epoch; present so trainers can treat both datasets alike."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        seq = rgb_sequence(self.store.rgb[i].float(), self.geometry.time_steps).contiguous()
        return seq, seq, int(self.labels[i])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All RGB images `(M,2,H,W,T)` float32 (a broadcast view, given twice) and labels `(M,)`."""
        seq = rgb_sequence(self.store.rgb.float(), self.geometry.time_steps)
        return seq, seq, self.labels.clone()


def to_tensors(dataset: PairedDataset | RgbDataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack a whole split at once (no per-item loop): `(rgb, dvs, labels)` as in `dataset.tensors()`.

    Meant for small datasets such as ndigits (train split ≈ 265 MB of float32 DVS frames at T=10, 48×48); for
    N-Caltech101-sized data iterate a DataLoader instead.
    """
    return dataset.tensors()
