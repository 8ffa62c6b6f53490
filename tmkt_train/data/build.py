"""A run's (train, test) datasets from its `DataConfig`: the one place training and deploy get them."""

from __future__ import annotations

from ..config import DataConfig
from .paired import PairedDataset
from .registry import build_dataset


def build_datasets(data: DataConfig, seed: int) -> tuple[PairedDataset, PairedDataset]:
    """(train, test) PairedDatasets for a run's data settings (what training and deploy's test set use).

    With `data.val_fraction` > 0 the train split lacks the held-out samples; `fit` evaluates
    `train.validation()` each epoch."""
    return build_split(data, seed, "train"), build_split(data, seed, "test")


def build_split(data: DataConfig, seed: int, split: str) -> PairedDataset:
    """One split ("train" or "test") for a run's data settings (a recipe search builds only "train")."""
    return build_dataset(data.dataset, split, data_dir=data.data_dir or None, time_steps=data.time_steps,
                         size=data.size, dvs_fraction=data.dvs_fraction, seed=seed,
                         cache_dir=data.cache_dir or None, limit=data.limit or None,
                         val_fraction=data.val_fraction)
