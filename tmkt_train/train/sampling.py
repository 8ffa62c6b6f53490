"""Which samples an epoch visits: the default per-epoch shuffle, or class-balanced sampling (the KT code's).

Class-balanced: each of the epoch's len(dataset) draws picks a class uniformly, then a sample of it
(with replacement: torch's WeightedRandomSampler with weights 1/count(class)), so rare classes are seen as
often as common ones (N-Caltech101 has 31 to 800 recordings a class). The draw is seeded by (seed, epoch)
and identical on every rank; each rank takes every world_size-th index, as DistributedSampler does.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, Sampler, WeightedRandomSampler

from ..config import SAMPLERS
from .distributed import Dist
from .distributed import sampler as shuffle_sampler


class ClassBalancedSampler(Sampler[int]):
    """This rank's share of len(dataset) class-balanced draws; `set_epoch` re-draws."""

    def __init__(self, labels: torch.Tensor, info: Dist, *, seed: int):
        counts = torch.bincount(labels)
        self.weights = (1.0 / counts.double())[labels]
        self.info, self.seed, self.epoch = info, seed, 0
        self.per_rank = -(-len(labels) // info.world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        total = self.per_rank * self.info.world_size
        draws = list(WeightedRandomSampler(self.weights, total, replacement=True, generator=generator))
        return iter(draws[self.info.rank::self.info.world_size])


def epoch_sampler(kind: str, dataset: Dataset, info: Dist, *, seed: int) -> Sampler[int]:
    """`data.sampler`'s sampler over `dataset` for this rank (call `set_epoch` before each epoch)."""
    if kind == "shuffle":
        return shuffle_sampler(dataset, info, seed=seed)
    if kind == "balanced":
        return ClassBalancedSampler(torch.as_tensor(dataset.labels), info, seed=seed)
    raise ValueError(f"data.sampler {kind!r}: choose one of {SAMPLERS}")
