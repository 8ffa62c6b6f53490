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
    on_host = getattr(getattr(dataset, "store", None), "dvs", torch.empty(0)).device.type == "cpu"
    if hasattr(dataset, "batch") and not (num_workers and on_host):
        return StoreBatches(dataset, sampler, batch_size)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      pin_memory=device.type == "cuda")
