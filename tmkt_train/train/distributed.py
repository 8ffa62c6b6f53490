"""Single-process or `torchrun` multi-process training, behind one small interface.

Under `torchrun --nproc-per-node N` (WORLD_SIZE > 1 in the environment) the trainer joins a process group
(NCCL on GPUs, gloo on CPU), wraps the method in DistributedDataParallel, shards batches per rank with
`DistributedSampler`, sums metrics across ranks, and only rank 0 writes files and shows progress. In one
process the same sampler (1 replica) gives the seeded, resumable per-epoch shuffle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler

from tmkt_common.device import configure_lava_cuda, pick_device

# Tensors made in Python and handed to a collective, kept referenced until `teardown` has destroyed the group.
# A gloo worker thread can drop its reference to a finished collective's tensors after the caller has moved
# on (a later barrier's work keeps earlier ones alive). If Python had let go first, that drop frees the
# tensor's Python object and needs the GIL, while `destroy_process_group` holds the GIL and joins that very
# thread: a deadlock (CI hung there; gdb showed ~AsyncAllreduceWork -> TensorImpl -> PyObject decref ->
# take_gil in the worker, ~ProcessGroupGloo -> thread join in the main thread; torch 2.3, 2 hangs in 77 runs
# of the gloo DDP test's workers on the 2-core box, none in 160 with this list). With Python still holding
# them, the worker's drop is a plain count decrement. One small tensor per epoch.
_SENT: list[torch.Tensor] = []


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> tuple[Dist, torch.device]:
    """Join the torchrun process group when there is one; returns (ranks, this process's device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), pick_device(device)
    info = Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    use_cuda = pick_device(device).type == "cuda"
    if use_cuda:
        torch.cuda.set_device(info.local_rank)
        configure_lava_cuda(info.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return info, torch.device("cuda", info.local_rank) if use_cuda else torch.device("cpu")


def teardown(info: Dist) -> None:
    """Leave the process group after a run that ended normally on this rank: a barrier first (no rank
    destroys its group while another still talks to it), then `destroy_process_group`, then the tensors
    `all_sum` sent are let go (see `_SENT`). Not called after an error: a collective teardown with ranks
    still inside collectives deadlocks, and the failing process exits anyway."""
    if info.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        _SENT.clear()


def sampler(dataset: Dataset, info: Dist, *, seed: int) -> DistributedSampler:
    """This rank's share of `dataset`, reshuffled per epoch by `set_epoch` from `seed` (same on all ranks)."""
    return DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                              seed=seed)


def wrap(module: torch.nn.Module, info: Dist, device: torch.device) -> torch.nn.Module:
    """DDP around the method when distributed. Buffers are not broadcast: SLAYER keeps per-batch neuron state
    in buffers whose shape follows the batch, which differs between ranks on the last batch."""
    if not info.active:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)


def all_sum(values: dict[str, float], info: Dist, device: torch.device) -> dict[str, float]:
    """Sum each value over ranks (identity in one process); keys must be the same on every rank."""
    if not info.active:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    _SENT.append(t)
    return dict(zip(keys, t.tolist(), strict=True))


def barrier(info: Dist) -> None:
    if info.active:
        dist.barrier()
