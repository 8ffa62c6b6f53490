"""Turn file lists into per-sample arrays (framed events, V channels) with a progress bar.

Shared by the real-dataset loaders so each one only says where its files are and how they split.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .framing import frame_events
from .rgb import load_v_channel
from .store import progress


def frame_files(
    paths: list[Path],
    read: Callable[[Path], np.ndarray],
    *,
    time_steps: int,
    size: int,
    description: str,
) -> list[np.ndarray]:
    """Read and frame every event file once, each at its own events' extent (a bad file stops here, naming
    itself)."""
    return [
        frame_events(read(p), time_steps=time_steps, size=size)
        for p in progress(paths, description, len(paths))
    ]


def load_images(paths: list[Path], size: int, description: str) -> list[np.ndarray]:
    return [load_v_channel(p, size) for p in progress(paths, description, len(paths))]
