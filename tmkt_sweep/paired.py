"""Paired differences over seeds with a 95 % Student-t interval, and the only verdict the interval allows.

Runs of two methods with the same seed share the seed's data split, kept DVS samples and initial weights,
so their difference per seed is the comparison; with n seeds the interval is mean ± t(0.975, n−1)·s/√n
(s the sample standard deviation of the differences). With n = 5 a bootstrap would resample 5 numbers,
so t it is (scipy.stats.t for the quantile).
"""

from __future__ import annotations

import math

import numpy as np

LEVEL = 0.95
WIN, LOSS, TIE = "win", "loss", "no significant difference"


def verdict(low: float, high: float) -> str:
    """`win` when the whole interval is above 0, `loss` when below, else no significant difference."""
    if low > 0:
        return WIN
    if high < 0:
        return LOSS
    return TIE


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = LEVEL) -> dict | None:
    """Per-seed differences a − b over the seeds both have, their mean and `level` t interval; None with
    fewer than two common seeds (no interval)."""
    from scipy import stats  # here: scipy.stats takes ~0.3 s to import, and only intervals need it

    seeds = sorted(a.keys() & b.keys())
    n = len(seeds)
    if n < 2:
        return None
    diffs = np.array([a[s] - b[s] for s in seeds], dtype=float)
    mean = float(diffs.mean())

    t_crit = float(stats.t.ppf(0.5 + level / 2, n - 1))
    half = t_crit * float(diffs.std(ddof=1)) / math.sqrt(n)
    low, high = mean - half, mean + half
    return {"seeds": seeds, "n": n, "diffs": diffs.tolist(), "mean": mean, "low": low, "high": high,
            "t_crit": t_crit, "level": level, "verdict": verdict(low, high)}
