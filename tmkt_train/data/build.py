"""A run's (train, test) datasets from its `DataConfig`: the one place training and deploy get them."""

from __future__ import annotations

from ..config import DataConfig
from .paired import PairedDataset
from .registry import build_dataset


def build_datasets(data: DataConfig, seed: int) -> tuple[PairedDataset, PairedDataset]:
    """(train, test) PairedDatasets for a run's data settings (what training and deploy's test set use).

    With `data.val_fraction` > 0 the train split lacks the held-out samples; `fit` evaluates
    `train.validation()` each epoch."""
    common = dict(data_dir=data.data_dir or None, time_steps=data.time_steps, size=data.size,
                  dvs_fraction=data.dvs_fraction, seed=seed, cache_dir=data.cache_dir or None,
                  limit=data.limit or None, val_fraction=data.val_fraction)
    return build_dataset(data.dataset, "train", **common), build_dataset(data.dataset, "test", **common)
