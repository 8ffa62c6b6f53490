"""Events → SLAYER frames `(C=2, H, W, T)`: tonic's `ToFrame(n_time_bins=T)`, then a bilinear resize.

Channel 0 counts OFF events, channel 1 ON events (tonic indexes channels by polarity). Frames stay raw
per-polarity counts (resized, not normalised), as the KT/TMKT preprocessing does. tonic's bins are
`(t_last - t_first) // T` µs wide, so events in the last few µs (at least the final one) are not counted; we
keep tonic's binning rather than re-implement it, to match the published preprocessing.
"""

from __future__ import annotations

import numpy as np
import tonic
import torch
import torch.nn.functional as F


def sensor_size_of(events: np.ndarray) -> tuple[int, int]:
    """(width, height) spanned by the events, for recordings whose sensor size varies (N-Caltech101)."""
    if len(events) == 0:
        return 1, 1
    return int(events["x"].max()) + 1, int(events["y"].max()) + 1


def frame_events(
    events: np.ndarray, *, time_steps: int, size: int, sensor_size: tuple[int, int] | None = None
) -> np.ndarray:
    """Bin `events` into `time_steps` equal time bins at `sensor_size` (width, height), resize to `size`².

    Returns float32 `(2, size, size, time_steps)`. `sensor_size=None` takes the extent of the events.
    """
    width, height = sensor_size or sensor_size_of(events)
    inside = (events["x"] < width) & (events["y"] < height)
    to_frame = tonic.transforms.ToFrame(sensor_size=(width, height, 2), n_time_bins=time_steps)
    frames = torch.from_numpy(to_frame(events[inside]).astype(np.float32))  # (T, 2, H, W)
    if (height, width) != (size, size):
        frames = F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False)
    return frames.permute(1, 2, 3, 0).contiguous().numpy()
