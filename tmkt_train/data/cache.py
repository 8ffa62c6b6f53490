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


def fingerprint(root: Path, ignore: Path | None = None) -> str:
    """A digest of every file's path relative to `root`, size and mtime, so renaming a class folder, moving a
    recording to another class, adding, deleting or editing any file gives another cache key.

    Costs one `stat` per file (no reading). `ignore` (the cache folder, when someone puts it inside the data
    folder) is left out.
    """
    root = Path(root)
    entries = []
    for path in root.rglob("*"):
        if path.is_file() and (ignore is None or not path.is_relative_to(ignore)):
            stat = path.stat()
            entries.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return hashlib.sha1(json.dumps(sorted(entries)).encode()).hexdigest()


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
