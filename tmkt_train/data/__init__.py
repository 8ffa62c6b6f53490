"""Paired RGB + event data for TMKT: readers, saccade emulator, four datasets, one `PairedDataset` interface.

Contract (docs/contracts.md §0): `build_dataset(name, split, ...) -> PairedDataset`, items `(rgb (2,H,W,T)
float32, dvs (2,H,W,T) float32, label int)`; `to_tensors(ds)` stacks a whole split at once.
"""

from tmkt_common.errors import DatasetError, DatasetWarning

from .paired import Geometry, PairedDataset, RgbDataset, to_tensors
from .registry import DATASETS, build_dataset, dataset_spec, forget_stores, list_datasets, load_store

__all__ = [
    "DATASETS",
    "DatasetError",
    "DatasetWarning",
    "Geometry",
    "PairedDataset",
    "RgbDataset",
    "build_dataset",
    "dataset_spec",
    "forget_stores",
    "list_datasets",
    "load_store",
    "to_tensors",
]
