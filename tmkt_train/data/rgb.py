"""Static images → the RGB stream: resize to `size`², keep the HSV V channel, repeat over 2 channels × T.

PIL does the colour conversion and resize (V = max(R, G, B), so grey images keep their grey level).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from tmkt_common.errors import DatasetError


def v_channel(image: Image.Image, size: int) -> np.ndarray:
    """HSV V channel of `image`, bilinearly resized to `size`², float32 in [0, 1]."""
    if image.mode == "F":  # float images (the embedded digits) are already intensities in [0, 1]
        value = image
    else:
        value = image.convert("RGB").convert("HSV").getchannel("V")
        value = Image.fromarray(np.asarray(value, dtype=np.float32) / 255.0, mode="F")
    resized = value.resize((size, size), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def array_to_image(intensity: np.ndarray) -> Image.Image:
    """A float intensity array in [0, 1] as a PIL float image, so arrays and files share one resize path."""
    return Image.fromarray(np.asarray(intensity, dtype=np.float32), mode="F")


def load_v_channel(path: str | Path, size: int) -> np.ndarray:
    """Read an image file and return its V channel at `size`²; a broken file names itself."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            return v_channel(image, size)
    except (OSError, UnidentifiedImageError) as err:
        raise DatasetError(f"{path}: unreadable image ({err})") from err


def rgb_sequence(value: torch.Tensor, time_steps: int) -> torch.Tensor:
    """`(..., H, W)` V channel → `(..., 2, H, W, T)`: the same frame at every step in both channels.

    Returns a broadcast view (no copy); index or `.contiguous()` it before writing in place.
    """
    shape = (*value.shape[:-2], 2, *value.shape[-2:], time_steps)
    return value.unsqueeze(-3).unsqueeze(-1).expand(shape)
