"""Training batches gathered where the frames live, instead of collated item by item by a DataLoader.

A DataLoader builds each batch on the CPU from `__getitem__` calls (18 ms per 128 ndigits samples at 48×48,
T=10 on a 2-core box, inside every step with `num_workers=0`) and then copies it to the GPU; a VGGSNN step on
an H100 takes ~34 ms. Our datasets are views over one in-memory `FrameStore`, so a whole batch is a single
gather (`dataset.batch(rows)`), and with the store moved to the GPU once (`dataset.on(device)`) batches never
touch the host. DataLoader does not offer gathering a batch by index tensor, so this small iterator is ours;
the DataLoader remains the fallback for stores too large to put on the device.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Sampler

DEVICE_SHARE = 0.25  # the frames may take at most this share of the GPU's free memory


class StoreBatches:
    """`(rgb, dvs, labels)` batches of `batch_size` in `sampler`'s order: the batches a
    `DataLoader(dataset, batch_size, sampler=sampler)` yields, gathered in one step each."""

    def __init__(self, dataset, sampler: Sampler, batch_size: int):
        self.dataset, self.sampler, self.batch_size = dataset, sampler, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        # A DataLoader iterator draws one base seed from the global generator; drawing it too keeps every
        # later random number, and so a seeded run, identical to the DataLoader's.
        torch.empty((), dtype=torch.int64).random_()
        order = torch.tensor(list(self.sampler), dtype=torch.int64)
        for rows in order.split(self.batch_size):
            yield self.dataset.batch(rows)


def place_frames(dataset, device: torch.device):
    """The dataset with its frames on `device` when they fit in DEVICE_SHARE of its free memory (a CUDA
    device), else as it is (batches then come from the host)."""
    if device.type != "cuda" or not hasattr(dataset, "on"):
        return dataset
    free, _ = torch.cuda.mem_get_info(device)
    return dataset.on(device) if dataset.store.frame_bytes <= DEVICE_SHARE * free else dataset


def epoch_batches(dataset, sampler: Sampler, batch_size: int, num_workers: int,
                  device: torch.device) -> StoreBatches | DataLoader:
    """Gathered batches for datasets that can (`batch`), unless workers were asked for with the frames on
    the host; else a DataLoader, with pinned memory on CUDA so copies overlap compute."""
    if not hasattr(dataset, "batch") or (num_workers and dataset.frames_device.type == "cpu"):
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                          pin_memory=device.type == "cuda",
                          multiprocessing_context=_worker_context(num_workers))
    return StoreBatches(dataset, sampler, batch_size)


def _worker_context(num_workers: int) -> multiprocessing.context.BaseContext | None:
    """The platform's default start method as an explicit context: workers started through the default one
    would fix the process-wide start method, and Lava, imported later for the export, sets its own (fork)
    and fails with "context has already been set"."""
    return multiprocessing.get_context(multiprocessing.get_all_start_methods()[0]) if num_workers else None
