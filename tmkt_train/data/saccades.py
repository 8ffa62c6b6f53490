"""Saccade DVS emulator: a static image → the event stream an ATIS/DVS camera records while making saccades.

Written here because tonic reads and transforms events but does not synthesise them from images. It mimics
the N-MNIST / N-Caltech101 recording rig: the camera makes three ~100 ms saccades along the triangle (0,0) →
(3.5,7) → (7,0) → (0,0) (pixels at the 34-pixel N-MNIST scale, scaled to the image size, centred on the
image). Each saccade is a straight line with a raised-cosine speed profile, which is what makes the event
rate peak once per saccade. The image is resampled bilinearly at each sub-pixel position (time step
`step_us`); every pixel compares its log intensity with a stored reference and fires an ON/OFF event when
the change reaches its contrast threshold (per-pixel threshold mismatch, Gaussian); firing resets the
reference to the current level and holds the pixel for a refractory period, during which the reference
follows the signal. Optional background noise events are Poisson in time and uniform over pixels and
polarity. Timestamps are microseconds, jittered uniformly inside the step. Everything is seeded, so one seed
gives one stream.

What the model leaves out: the photoreceptor's low-pass filter and its light-dependent bandwidth, the
monitor's refresh flicker and the optics' blur, shot noise and leak events whose rate depends on intensity,
hot pixels, arbiter/readout delays and event bursts, the ATIS's separate exposure (grey-level) events, and
the rig's mechanical jitter and overshoot at saccade turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .events_io import make_events

SACCADE_PATH_34PX = ((0.0, 0.0), (3.5, 7.0), (7.0, 0.0), (0.0, 0.0))  # (dx, dy) at the N-MNIST scale


@dataclass(frozen=True)
class SaccadeConfig:
    """Camera and rig parameters; defaults give N-MNIST's event count (±30%) and rate profile (see tests)."""

    saccade_us: int = 100_000
    step_us: int = 2_000
    threshold: float = 0.4
    threshold_sigma: float = 0.03
    refractory_us: int = 1_000
    noise_rate_hz: float = 0.1
    black_level: float = 0.1  # monitor black: log(I + black_level), so dark regions are not -inf

    @property
    def duration_us(self) -> int:
        return self.saccade_us * (len(SACCADE_PATH_34PX) - 1)


def saccade_offsets(config: SaccadeConfig, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time (µs) and image offset (dx, dy in output pixels) at each simulation step, path centred on 0."""
    steps = config.saccade_us // config.step_us
    ease = (1.0 - np.cos(np.pi * np.arange(steps) / steps)) / 2.0  # raised-cosine position along each line
    path = np.asarray(SACCADE_PATH_34PX) * (width / 34.0)
    path -= (path.max(axis=0) + path.min(axis=0)) / 2.0
    start, end = path[:-1], path[1:]
    offsets = start[:, None, :] + ease[None, :, None] * (end - start)[:, None, :]
    offsets = np.concatenate([offsets.reshape(-1, 2), path[-1:]], axis=0)
    times = np.arange(len(offsets), dtype=np.int64) * config.step_us
    return times, offsets[:, 0], offsets[:, 1]


def shifted_frames(image: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """`image` moved by each (dx, dy), bilinear, black outside: `(K, H, W)` in one gather."""
    height, width = image.shape
    pad = int(np.ceil(max(np.abs(dx).max(), np.abs(dy).max()))) + 2
    padded = np.pad(image, pad)
    sy, sx = pad - dy, pad - dx  # sampling origin: pixel (y, x) sees image point (y - dy, x - dx)
    iy, ix = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy = (sy - iy).astype(np.float32)[:, None, None]
    fx = (sx - ix).astype(np.float32)[:, None, None]
    rows = iy[:, None] + np.arange(height + 1)
    cols = ix[:, None] + np.arange(width + 1)
    win = padded[rows[:, :, None], cols[:, None, :]]  # (K, H+1, W+1)
    top = (1 - fx) * win[:, :-1, :-1] + fx * win[:, :-1, 1:]
    bottom = (1 - fx) * win[:, 1:, :-1] + fx * win[:, 1:, 1:]
    return (1 - fy) * top + fy * bottom


def emulate_saccades(
    image: np.ndarray,
    seed: int | Sequence[int] | np.random.Generator = 0,
    config: SaccadeConfig = SaccadeConfig(),
) -> np.ndarray:
    """Events (tonic's N-MNIST dtype, t in µs, p 1 = ON) of a camera saccading over `image` (H, W), [0, 1]."""
    rng = np.random.default_rng(seed)
    image = np.asarray(image, dtype=np.float32)
    height, width = image.shape
    times, dx, dy = saccade_offsets(config, width)
    # (K, pixels): flat rows keep the per-step loop cheap
    log_frames = np.log(shifted_frames(image, dx, dy) + config.black_level).reshape(len(times), -1)
    threshold = np.maximum(
        config.threshold + config.threshold_sigma * rng.standard_normal(height * width), config.threshold / 4
    )
    reference = log_frames[0].copy()
    ready_at = np.zeros(height * width, dtype=np.int64)
    fired_pixels, fired_change, fired_count = [], [], []
    for k in range(1, len(times)):
        change = log_frames[k] - reference
        ready = ready_at <= times[k]
        fire = ready & (np.abs(change) >= threshold)
        pixels = np.flatnonzero(fire)
        fired_pixels.append(pixels)
        fired_change.append(change[pixels])
        fired_count.append(len(pixels))
        np.copyto(reference, log_frames[k], where=fire | ~ready)  # reset, or follow while refractory
        ready_at[pixels] = times[k] + config.refractory_us
    step = np.repeat(np.arange(1, len(times)), fired_count)
    pixel = np.concatenate(fired_pixels)
    polarity = (np.concatenate(fired_change) > 0).astype(np.int64)
    t = times[step] - rng.integers(0, config.step_us, len(step))  # crossing happened during the step
    noise = rng.poisson(config.noise_rate_hz * height * width * config.duration_us * 1e-6)
    pixel = np.concatenate([pixel, rng.integers(0, height * width, noise)])
    t = np.concatenate([t, rng.integers(0, config.duration_us, noise)])
    polarity = np.concatenate([polarity, rng.integers(0, 2, noise)])
    return make_events(pixel % width, pixel // width, t, polarity)
