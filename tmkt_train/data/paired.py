"""PairedDataset: (RGB sequence, DVS sequence, label) items over a FrameStore, with class-level pairing.

Each kept DVS sample is paired with a training RGB image of the same class, drawn from a generator seeded by
(seed, epoch); `set_epoch(e)` re-draws. All frames were made when the store was built, so an item is
indexing plus a float cast, and `to_tensors` hands a trainer whole splits at once. `on(device)` moves a view's
frames to the GPU once, and `batch(rows)` then gathers a training batch there in one step: no per-item
collation on the CPU and no host-to-device copy per step.

The `val` split is `val_fraction` of each class's training event samples, held out (seeded) so settings can
be chosen without the test split; with `val_fraction` > 0 the `train` split is the rest.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from tmkt_common.errors import DatasetError

from .rgb import rgb_sequence
from .splits import held_out, keep_fraction
from .store import FrameStore

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Geometry:
    """Shape of one sequence in SLAYER layout: (channels, height, width, time_steps)."""

    channels: int
    height: int
    width: int
    time_steps: int


def check_view(split: str, dvs_fraction: float, val_fraction: float = 0.0) -> None:
    """Reject a bad split name or fraction before any loading work is done."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {SPLITS}")
    if not 0.0 < dvs_fraction <= 1.0:
        raise DatasetError(f"dvs_fraction must be in (0, 1], got {dvs_fraction}")
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
    if split == "val" and val_fraction == 0.0:
        raise DatasetError("the val split needs data.val_fraction > 0 (the share of training events held "
                           "out)")


def check_hold_out(labels: np.ndarray, val: np.ndarray, classes: list[str], fraction: float) -> None:
    """Every class must keep training samples and give validation ones, else the split would mislead."""
    for label in np.unique(labels):
        n, held = int((labels == label).sum()), int(val[labels == label].sum())
        if held == 0:
            hint = f"use at least {1 / n:.3g}" if n > 1 else "one sample cannot be split"
            raise DatasetError(f"data.val_fraction={fraction} holds out none of class {classes[label]!r}'s "
                               f"{n} training event sample(s); {hint}")
        if held == n:
            raise DatasetError(f"data.val_fraction={fraction} holds out all {n} training event sample(s) of "
                               f"class {classes[label]!r}, leaving none to train on; lower it")


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

    def on(self, device: torch.device | str) -> _StoreView:
        """This view over a copy of the store whose frames live on `device` (views derived from it share
        that copy); `batch` then gathers there."""
        moved = copy.copy(self)
        moved.store = self.store.on(device)
        return moved

    @property
    def frames_device(self) -> torch.device:
        """Where the store's frames (and so gathered batches) live."""
        return self.store.dvs.device

    def _frames_at(self, rows: torch.Tensor) -> torch.Tensor:
        """Store rows as an index where the frames live. non_blocking: a blocking host-to-device copy would
        wait for every queued GPU step, once per batch."""
        return rows.to(self.frames_device, non_blocking=True)

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels, minlength=len(self.classes)).tolist()
        return dict(zip(self.classes, counts, strict=True))


class PairedDataset(_StoreView):
    """Items `(rgb (2,H,W,T) float32, dvs (2,H,W,T) float32, label int)` over a split's kept DVS samples.

    `val_fraction` > 0 holds that share of each class's training event samples out of `train` (before
    `dvs_fraction` keeps its share of the rest), seeded by `seed`; split `val` is those held-out samples.
    """

    def __init__(self, store: FrameStore, split: str, *, dvs_fraction: float = 1.0, seed: int = 0,
                 val_fraction: float = 0.0) -> None:
        check_view(split, dvs_fraction, val_fraction)
        super().__init__(store)
        self.split = split
        self.seed = seed
        self.val_fraction = val_fraction
        in_split = np.flatnonzero(store.dvs_train.numpy() == (split != "test"))
        if split != "test" and val_fraction > 0.0:
            labels = store.dvs_labels.numpy()[in_split]
            val = held_out(labels, val_fraction, seed)
            check_hold_out(labels, val, self.classes, val_fraction)
            in_split = in_split[val if split == "val" else ~val]
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
        """`rgb` is a broadcast view (no copy): the DataLoader's collate stacks it into a new batch anyway."""
        rgb = rgb_sequence(self.store.rgb[self.partners[i]].float(), self.geometry.time_steps)
        return rgb, self.events(i), int(self.labels[i])

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Items `rows` gathered at once where the store lives: the `(rgb, dvs, labels)` a DataLoader
        would collate from `__getitem__`, labels on the CPU."""
        rgb = rgb_sequence(self.store.rgb[self._frames_at(self.partners[rows])].float(),
                           self.geometry.time_steps)
        return rgb.contiguous(), self.events(rows), self.labels[rows]

    def events(self, index: int | slice | torch.Tensor) -> torch.Tensor:
        """The event sequences of items `index` in one gather, `(..., 2, H, W, T)` float32: what evaluation
        reads, without pairing or collating any RGB."""
        return self.store.dvs[self._frames_at(self.indices[index])].float()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The whole split for this epoch's pairing: rgb and dvs `(N,2,H,W,T)` float32, labels `(N,)` int64.

        `rgb` is a broadcast view over time and channels (no copy); index it before writing in place.
        """
        rgb = rgb_sequence(self.store.rgb[self.partners].float(), self.geometry.time_steps)
        return rgb, self.events(slice(None)), self.labels.clone()

    def rgb_only(self) -> RgbDataset:
        """All training RGB images as `(rgb, rgb, label)` items, for RGB pre-training."""
        return RgbDataset(self.store)

    def validation(self) -> PairedDataset:
        """The event samples this training split held out (`val_fraction` > 0): scored, never trained on."""
        if self.split != "train" or self.val_fraction == 0.0:
            raise DatasetError(f"the {self.split} split holds nothing out: build the training split with "
                               "data.val_fraction > 0")
        return PairedDataset(self.store, "val", seed=self.seed, val_fraction=self.val_fraction)


class RgbDataset(_StoreView):
    """Every training RGB image as an item `(seq, seq, label)`, the same layout as PairedDataset."""

    def __init__(self, store: FrameStore) -> None:
        super().__init__(store)
        self.labels = store.rgb_labels

    def set_epoch(self, epoch: int) -> None:
        """Nothing is drawn per epoch; present so trainers can treat both datasets alike."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        seq = rgb_sequence(self.store.rgb[i].float(), self.geometry.time_steps)  # a view; collate copies
        return seq, seq, int(self.labels[i])

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Items `rows` gathered at once where the store lives (one tensor, given twice: nothing writes
        into batches in place)."""
        seq = rgb_sequence(self.store.rgb[self._frames_at(rows)].float(), self.geometry.time_steps)
        seq = seq.contiguous()
        return seq, seq, self.labels[rows]

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
