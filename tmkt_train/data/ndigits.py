"""`ndigits`: the embedded default, scikit-learn's 1,797 real 8×8 handwritten digits with emulated events.

No download: `sklearn.datasets.load_digits` ships the digits inside scikit-learn. Each digit is upsampled to
fill 27/34 of the frame (the share an MNIST digit has on N-MNIST's 34-pixel sensor), centred, and that
picture is both the RGB image and what the saccade emulator "films". The train/test split is a fixed
stratified 80/20 (seed 0, independent of the pairing seed) so test numbers stay comparable across runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .framing import frame_events
from .rgb import array_to_image, v_channel
from .saccades import emulate_saccades
from .splits import first_n_per_class, stratified_split
from .store import FrameStore, progress, stack_store

TEST_FRACTION = 0.2
EMULATOR_SEED = 0
DIGIT_SHARE = 27 / 34


def digit_canvas(digit: np.ndarray, size: int) -> np.ndarray:
    """An 8×8 digit (0..16) upsampled and centred on a black `size`² canvas, float32 in [0, 1]."""
    inner = round(size * DIGIT_SHARE)
    canvas = np.zeros((size, size), dtype=np.float32)
    start = (size - inner) // 2
    canvas[start : start + inner, start : start + inner] = v_channel(array_to_image(digit / 16.0), inner)
    return canvas


def build_store(data_dir: Path | None, *, time_steps: int, size: int, limit: int | None = None) -> FrameStore:
    """Emulate and frame every digit (≈10 ms each at 48×48); `limit` keeps the first N digits of each class.

    `data_dir` is unused: the digits ship with scikit-learn.
    """
    from sklearn.datasets import (
        load_digits,  # here: scikit-learn takes seconds to import; cached stores skip it
    )

    digits = load_digits()
    chosen = first_n_per_class(digits.target, limit)
    images, labels = digits.images[chosen], digits.target[chosen]
    train = stratified_split(labels, TEST_FRACTION, seed=0)
    canvases, frames = [], []
    for i in progress(range(len(images)), "emulating ndigits events", len(images)):
        canvas = digit_canvas(images[i], size)
        events = emulate_saccades(canvas, seed=[EMULATOR_SEED, i])
        canvases.append(canvas)
        frames.append(frame_events(events, time_steps=time_steps, size=size, sensor_size=(size, size)))
    return stack_store(
        classes=[str(c) for c in digits.target_names],
        dvs=frames,
        dvs_labels=labels.tolist(),
        dvs_train=train.tolist(),
        rgb=[c for c, keep in zip(canvases, train, strict=True) if keep],
        rgb_labels=labels[train].tolist(),
        report={"source": "sklearn.datasets.load_digits + saccade emulator"},
    )

