"""Gathered training batches (`StoreBatches`): the same batches, in the same order, with the same random
stream as the DataLoader they replace, so a seeded run is unchanged; on real ndigits data."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from tmkt_train.config import TrainConfig
from tmkt_train.data import build_dataset
from tmkt_train.data.build import build_datasets
from tmkt_train.train.batches import StoreBatches, epoch_batches
from tmkt_train.train.trainer import fit

torch.set_num_threads(1)
LIMIT = 12  # digits per class


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    dataset = build_dataset("ndigits", "train", cache_dir=cache, limit=LIMIT, time_steps=4, size=16,
                            dvs_fraction=0.5)
    dataset.set_epoch(3)
    return dataset, cache


def sampler(dataset, rank: int = 0, replicas: int = 1) -> DistributedSampler:
    s = DistributedSampler(dataset, num_replicas=replicas, rank=rank, shuffle=True, seed=7)
    s.set_epoch(2)
    return s


@pytest.mark.parametrize("view", ["paired", "rgb-only"])
@pytest.mark.parametrize("rank", [0, 1])
def test_gathered_batches_equal_the_dataloaders(paired, view, rank):
    dataset = paired[0] if view == "paired" else paired[0].rgb_only()
    torch.manual_seed(0)
    want = list(DataLoader(dataset, batch_size=5, sampler=sampler(dataset, rank, 2)))
    after_loader = torch.rand(3)
    torch.manual_seed(0)
    have = list(StoreBatches(dataset, sampler(dataset, rank, 2), batch_size=5))
    assert torch.equal(torch.rand(3), after_loader), "the global random stream must be left as a DataLoader's"
    assert len(have) == len(want) == len(StoreBatches(dataset, sampler(dataset, rank, 2), 5))
    for (rgb, dvs, labels), (want_rgb, want_dvs, want_labels) in zip(have, want, strict=True):
        assert torch.equal(rgb, want_rgb) and torch.equal(dvs, want_dvs) and torch.equal(labels, want_labels)
        assert rgb.is_contiguous() and dvs.dtype == torch.float32
    assert sum(len(b[2]) for b in have) == len(sampler(dataset, rank, 2))


def test_a_view_moved_with_on_gathers_the_same_batches(paired):
    dataset = paired[0]
    moved = dataset.on("cpu")
    assert moved.store is not dataset.store and moved.rgb_only().store is moved.store
    rows = torch.tensor([4, 0, 7])
    for a, b in zip(dataset.batch(rows), moved.batch(rows), strict=True):
        assert torch.equal(a, b)
    assert moved.store.frame_bytes == dataset.store.dvs.nbytes + dataset.store.rgb.nbytes


def test_workers_fall_back_to_a_dataloader(paired):
    dataset = paired[0]
    assert isinstance(epoch_batches(dataset, sampler(dataset), 4, 0, torch.device("cpu")), StoreBatches)
    assert isinstance(epoch_batches(dataset, sampler(dataset), 4, 2, torch.device("cpu")), DataLoader)


def test_a_seeded_run_is_the_same_with_gathered_and_dataloader_batches(paired, tmp_path):
    """num_workers=1 trains from a DataLoader (one worker process), 0 from gathered batches."""
    histories = []
    for workers in (1, 0):
        cfg = TrainConfig(method="tmkt")
        cfg.data.size, cfg.data.time_steps, cfg.data.limit = 16, 4, LIMIT
        cfg.data.cache_dir, cfg.data.dvs_fraction, cfg.data.num_workers = str(paired[1]), 0.5, workers
        cfg.model.width, cfg.optim.epochs, cfg.optim.batch_size = 0.25, 2, 8
        train, test = build_datasets(cfg.data, cfg.seed)
        lines = fit(cfg, tmp_path / str(workers), train_set=train, test_set=test, device="cpu")
        histories.append([{k: v for k, v in line.items() if k != "seconds"} for line in lines])
    assert histories[0] == histories[1]
    assert histories[0][-1]["spikes_per_sample"] > 0


def test_loader_workers_leave_the_start_method_to_lava():
    """Training with DataLoader workers, then exporting to Lava in the same process: Lava sets its own start
    method when imported, which fails once workers have fixed the default one. A fresh interpreter, so
    Lava is not imported yet."""
    pytest.importorskip("lava.magma", reason="needs lava-nc (Python 3.10)")
    script = (
        "import multiprocessing, torch\n"
        "from torch.utils.data import TensorDataset\n"
        "from tmkt_train.train.batches import epoch_batches\n"
        "data = TensorDataset(torch.arange(6.0))\n"
        "assert len(list(epoch_batches(data, list(range(6)), 4, 1, torch.device('cpu')))) == 2\n"
        "assert multiprocessing.get_start_method(allow_none=True) is None\n"
        "import tmkt_deploy.lava.simulate\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
