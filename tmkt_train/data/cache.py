"""On-disk cache of FrameStores, keyed by everything that changes the frames (dataset, size, T, sources).

Default folder: `$TMKT_CACHE`, else `~/.cache/tmkt`. A cache that cannot be read is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .store import FrameStore


def fingerprint(root: Path, ignore: Path | None = None) -> tuple[int, int, int]:
    """(file count, total bytes, newest mtime) under `root`, so edits to a dataset invalidate its cache.

    `ignore` (the cache folder, when someone puts it inside the data folder) is left out.
    """
    files = (p for p in Path(root).rglob("*") if p.is_file())
    stats = [p.stat() for p in files if ignore is None or not p.is_relative_to(ignore)]
    return len(stats), sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)


def default_cache_dir() -> Path:
    return Path(os.environ.get("TMKT_CACHE") or Path.home() / ".cache" / "tmkt")


def cache_path(cache_dir: str | Path | None, name: str, key: dict[str, Any]) -> Path:
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()) / f"{name}-{digest}.npz"


def cached_store(
    cache_dir: str | Path | None, name: str, key: dict[str, Any], build: Callable[[], FrameStore]
) -> FrameStore:
    """Load the store for `key` from the cache, or build it and save it atomically."""
    path = cache_path(cache_dir, name, key)
    if path.is_file():
        try:
            return FrameStore.load(path)
        except (OSError, ValueError, KeyError):
            pass  # unreadable or from an older format: rebuild below and overwrite atomically
    store = build()
    store.save(path)
    return store
