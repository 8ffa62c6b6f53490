"""Dataset registry: a name → how to build its FrameStore; `build_dataset` adds caching and the split view.

A new dataset is one module with `build_store(data_dir, *, time_steps, size, limit)` plus one entry here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from tmkt_common.errors import DatasetError, DatasetWarning

from . import cepdvs, ncaltech101, ndigits, nomniglot
from .cache import cached_store, default_cache_dir, fingerprint
from .paired import PairedDataset, check_view
from .saccades import SaccadeConfig
from .store import FrameStore


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    summary: str
    build_store: Callable[..., FrameStore]
    needs_data_dir: bool = True
    version: dict[str, Any] = field(default_factory=dict)  # anything else that changes the frames


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "ndigits", "embedded: 1,797 scikit-learn digits + emulated saccade events (no download)",
            ndigits.build_store, needs_data_dir=False,
            version={"emulator": asdict(SaccadeConfig()), "digit_share": ndigits.DIGIT_SHARE},
        ),
        DatasetSpec(
            "ncaltech101", "N-Caltech101 events (ATIS .bin) + Caltech101 images", ncaltech101.build_store
        ),
        DatasetSpec("cepdvs", "CEP-DVS events (.mat) + index-aligned .jpg images", cepdvs.build_store),
        DatasetSpec("nomniglot", "N-Omniglot events (AEDAT4 + CSV) + Omniglot images", nomniglot.build_store),
    )
}


def list_datasets() -> list[str]:
    return list(DATASETS)


def dataset_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_store(
    name: str, data_dir: Path | None, time_steps: int, size: int, cache_dir: Path | None, limit: int | None
) -> FrameStore:
    """The FrameStore of a dataset, from memory, the disk cache, or built once (train and test share it).

    Both caches are keyed on the dataset's files (each one's relative path, size and mtime: see
    `fingerprint`), so a file renamed, moved or edited since is never served from either.
    """
    spec = dataset_spec(name)
    files = None
    if spec.needs_data_dir:
        if data_dir is None:
            raise DatasetError(f"dataset {name!r} reads files from disk: give data_dir (--data-dir)")
        if not data_dir.is_dir():
            raise DatasetError(f"{data_dir}: data folder for {name!r} not found")
        files = fingerprint(data_dir, ignore=cache_dir or default_cache_dir())
    return _remembered_store(name, data_dir, time_steps, size, cache_dir, limit, files)


@lru_cache(maxsize=4)
def _remembered_store(
    name: str, data_dir: Path | None, time_steps: int, size: int, cache_dir: Path | None, limit: int | None,
    files: str | None,
) -> FrameStore:
    spec = dataset_spec(name)
    key: dict[str, Any] = {"time_steps": time_steps, "size": size, "limit": limit, **spec.version}
    if files is not None:
        key.update(data_dir=data_dir, files=files)

    def build() -> FrameStore:
        return build_noting_warnings(spec, data_dir, time_steps=time_steps, size=size, limit=limit)

    return cached_store(cache_dir, name, key, build)


def build_noting_warnings(spec: DatasetSpec, data_dir: Path | None, **options: Any) -> FrameStore:
    """Build a store; the `DatasetWarning`s raised on the way (files that look damaged) are shown now and
    kept in `store.report["warnings"]`, so a load from the cache still names those files (`tmkt-train
    datasets` prints the report)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DatasetWarning)
        store = spec.build_store(data_dir, **options)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    damaged = [str(w.message) for w in caught if issubclass(w.category, DatasetWarning)]
    if damaged:
        store.report["warnings"] = damaged
    return store


def forget_stores() -> None:
    """Drop the stores held in memory (tests use it to exercise the disk cache)."""
    _remembered_store.cache_clear()


def build_dataset(
    name: str,
    split: str,
    *,
    data_dir: str | Path | None = None,
    time_steps: int = 10,
    size: int = 48,
    dvs_fraction: float = 1.0,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    limit: int | None = None,
    val_fraction: float = 0.0,
) -> PairedDataset:
    """A split of a registered dataset as a PairedDataset (see docs/contracts.md §0).

    `limit` keeps only the first N event samples of each class (quick looks and tests). `val_fraction` > 0
    holds that share of each class's training event samples out of `train` as split `val`.
    """
    if time_steps < 1 or size < 1:
        raise DatasetError(f"time_steps and size must be positive, got {time_steps} and {size}")
    check_view(split, dvs_fraction, val_fraction)
    store = load_store(
        name,
        Path(data_dir).resolve() if data_dir is not None else None,
        time_steps,
        size,
        Path(cache_dir).resolve() if cache_dir is not None else None,
        limit,
    )
    return PairedDataset(store, split, dvs_fraction=dvs_fraction, seed=seed, val_fraction=val_fraction)
