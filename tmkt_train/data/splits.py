"""Deterministic per-class selections: train/test splits, the validation hold-out and the kept fraction of
DVS training samples.
"""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean train mask: a seeded shuffle per class, `round(test_fraction·n)` to test (≥1 when n ≥ 2)."""
    labels = np.asarray(labels)
    train = np.ones(len(labels), dtype=bool)
    rng = np.random.default_rng(seed)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, round(test_fraction * len(members))) if len(members) >= 2 else 0
        train[members[:n_test]] = False
    return train


def first_per_class(labels: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean train mask: the first `floor(fraction·n)` samples of each class, in order (protocols)."""
    labels = np.asarray(labels)
    train = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        train[members[: int(fraction * len(members))]] = True
    return train


def _choose_per_class(labels: np.ndarray, fraction: float, rng: np.random.Generator,
                      at_least: int) -> np.ndarray:
    """Indices into `labels`: `max(at_least, round(fraction·n))` of each class's n, drawn without replacement
    from `rng`, classes in ascending order."""
    labels = np.asarray(labels)
    chosen = [rng.choice(members, size=max(at_least, round(fraction * len(members))), replace=False)
              for members in (np.flatnonzero(labels == label) for label in np.unique(labels))]
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def keep_fraction(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices into `labels` keeping `fraction` of each class (at least one), seeded, in ascending order."""
    return np.sort(_choose_per_class(labels, fraction, np.random.default_rng(seed), at_least=1))


def held_out(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask: `round(fraction·n)` seeded samples of each class (possibly none, or all: callers check).

    Drawn from its own stream `(seed, 1)`, so the hold-out does not move with `keep_fraction`'s draws.
    """
    mask = np.zeros(len(labels), dtype=bool)
    mask[_choose_per_class(labels, fraction, np.random.default_rng([seed, 1]), at_least=0)] = True
    return mask


def first_n_per_class(labels: np.ndarray, n: int | None) -> np.ndarray:
    """Indices of the first `n` samples of each class, in order (all when `n` is None): quick subsets."""
    labels = np.asarray(labels)
    if n is None:
        return np.arange(len(labels))
    rank = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank[members] = np.arange(len(members))
    return np.flatnonzero(rank < n)
