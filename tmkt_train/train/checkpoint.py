"""`checkpoint.pt` (contract 1): weights + everything deploy and `--resume` need, written atomically.

Only torch and the atomic writer here: `tmkt_train.models.load_model` reads checkpoints through this
module, and deploy must not pull in data or optimiser code.
"""

from __future__ import annotations

import os
import pickle
from importlib.metadata import PackageNotFoundError, version

import torch

from ..atomic import atomic_write

CHECKPOINT = "checkpoint.pt"  # a run folder's checkpoint file

FORMAT = "tmkt-checkpoint"
VERSION = 1


def package_versions() -> dict[str, str]:
    found = {}
    for name in ("tmkt", "torch", "lava-dl", "lava-nc"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


def save_checkpoint(path: str | os.PathLike, checkpoint: dict) -> None:
    """Write `checkpoint` (adds format/version/versions) to a temp file, then rename over `path`."""
    doc = {"format": FORMAT, "version": VERSION, "versions": package_versions(), **checkpoint}
    with atomic_write(path, "wb") as f:
        torch.save(doc, f)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint on CPU; a missing, unreadable or foreign file is a ValueError naming it."""
    try:
        doc = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:  # random or truncated bytes
        raise ValueError(f"{path}: not a tmkt checkpoint, or a damaged one (cannot read it: {exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a tmkt checkpoint (expected format {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {doc.get('version')} is not {VERSION}")
    return doc
