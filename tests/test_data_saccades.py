"""The saccade emulator against the real N-MNIST recording: event count, ON/OFF balance, saccade timing."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from support import NMNIST_SAMPLE as NMNIST

from tmkt_train.data.events_io import EVENT_DTYPE, read_atis_bin
from tmkt_train.data.ndigits import digit_canvas
from tmkt_train.data.saccades import SaccadeConfig, emulate_saccades

BIN_US = 10_000


def saccade_peaks(events: np.ndarray, saccades: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event rate in 10 ms bins; the peak bin time (µs) and rate in each third of the recording, and the
    lowest rate between consecutive peaks."""
    t = events["t"] - events["t"][0]
    rate, edges = np.histogram(t, bins=np.arange(0, t[-1] + BIN_US, BIN_US))
    thirds = np.array_split(np.arange(len(rate)), saccades)
    peak_bins = np.array([part[np.argmax(rate[part])] for part in thirds])
    valleys = np.array([rate[a:b + 1].min() for a, b in zip(peak_bins[:-1], peak_bins[1:], strict=True)])
    return edges[peak_bins] + BIN_US // 2, rate[peak_bins], valleys


def mnist_like_digit() -> np.ndarray:
    """A real handwritten zero at N-MNIST geometry (28 px of ink area on the 34 px sensor)."""
    return digit_canvas(load_digits().images[0], 34)


def test_emulated_digit_matches_real_nmnist_recording():
    real = read_atis_bin(NMNIST)
    fake = emulate_saccades(mnist_like_digit(), seed=0)
    assert fake.dtype == EVENT_DTYPE
    assert 1 / 3 < len(fake) / len(real) < 3  # same order of magnitude (real: 4,325 events)
    assert abs(fake["p"].mean() - real["p"].mean()) < 0.1  # ON/OFF balance (real: 49.6% ON)
    real_times, real_peaks, real_valleys = saccade_peaks(real)
    fake_times, fake_peaks, fake_valleys = saccade_peaks(fake)
    for peaks, valleys in ((real_peaks, real_valleys), (fake_peaks, fake_valleys)):
        assert np.all(valleys < 0.5 * peaks.min())  # three separate bursts, one per saccade
    assert np.all(np.abs(fake_times - real_times) <= 30_000)  # peaks within 30 ms of the real ones


def test_emulator_is_deterministic_under_a_seed_and_stays_on_the_sensor():
    image = digit_canvas(load_digits().images[5], 48)
    a, b = emulate_saccades(image, seed=3), emulate_saccades(image, seed=3)
    c = emulate_saccades(image, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a["x"].max() < 48 and a["y"].max() < 48 and a["x"].min() >= 0
    assert np.all(np.diff(a["t"]) >= 0)
    assert 0 <= a["t"].min() and a["t"].max() <= SaccadeConfig().duration_us


def test_blank_image_gives_only_noise_events():
    blank = np.zeros((48, 48), dtype=np.float32)
    quiet = emulate_saccades(blank, seed=0, config=SaccadeConfig(noise_rate_hz=0.0))
    noisy = emulate_saccades(blank, seed=0, config=SaccadeConfig(noise_rate_hz=5.0))
    assert len(quiet) == 0
    expected = 5.0 * 48 * 48 * SaccadeConfig().duration_us * 1e-6
    assert 0.7 * expected < len(noisy) < 1.3 * expected


def test_higher_threshold_gives_fewer_events():
    image = mnist_like_digit()
    low = emulate_saccades(image, seed=0, config=SaccadeConfig(threshold=0.2))
    high = emulate_saccades(image, seed=0, config=SaccadeConfig(threshold=0.6))
    assert len(high) < 0.7 * len(low)
