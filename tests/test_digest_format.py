"""Spike digest format 3 (`tmkt_deploy.check.digest`) against a plain-Python reading of its definition in
docs/contracts.md, and the properties the spike check relies on: device- and layout-independence, the
emulator's shifted windows hashing like the records they stand for, graded values seen."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tmkt_deploy.check import digest
from tmkt_deploy.check.digest import spike_digests, window_digests

MOD = 1 << 64


def mix(x: int) -> int:
    x %= MOD
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 % MOD
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB % MOD
    return x ^ (x >> 31)


def reference(record: np.ndarray) -> np.ndarray:
    """The definition, element by element: one sample (*shape, P) → steps × neurons (channels last) → sum of
    mixed nonzero 64-bit words (or of mixed nonzero values for graded spikes), modulo 2**64, as int64."""
    out = []
    for sample in record:
        steps = np.moveaxis(sample, -1, 0)
        if steps.ndim == 4:
            steps = steps.transpose(0, 2, 3, 1)
        steps = steps.reshape(len(steps), -1).astype(np.int64)
        total = 0
        if ((steps != 0) & (steps != 1)).any():
            for i, value in enumerate(steps.reshape(-1).tolist()):
                if value:
                    total += mix((value % MOD) ^ mix(i + digest.GRADED_SEED))
        else:
            words = -(-steps.shape[1] // 64)
            for t, row in enumerate(steps.tolist()):
                for k in range(words):
                    word = sum(1 << b for b, bit in enumerate(row[64 * k:64 * k + 64]) if bit)
                    if word:
                        total += mix(word ^ mix(t * words + k + digest.SEED))
        total %= MOD
        out.append(total - MOD if total >= 1 << 63 else total)
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("shape", [(3, 4, 5, 6, 7), (3, 70, 6), (2, 130, 5), (2, 16, 3, 3, 4)])
def test_digests_follow_the_documented_definition(shape):
    rng = np.random.default_rng(len(shape) + shape[1])
    spikes = (rng.random(shape) < 0.3).astype(np.uint8)
    spikes[-1, ..., -1] *= 3  # one graded sample
    got = spike_digests(spikes)
    assert got.dtype == np.int64
    assert np.array_equal(got, reference(spikes))
    assert len(set(got.tolist())) == len(got)


def test_a_shifted_window_hashes_like_its_record():
    """The emulator hashes steps 0 .. P-1-latency of its window as steps latency .. P-1 of the record."""
    rng = np.random.default_rng(3)
    window = torch.as_tensor(rng.random((4, 9, 3, 5, 5)) < 0.2)  # (n, P, C, H, W)
    latency = 3
    record = torch.zeros_like(window)
    record[:, latency:] = window[:, :-latency]
    rows = window.permute(0, 1, 3, 4, 2).reshape(4, 9, -1)  # steps by neurons, channels last
    shifted = window_digests(rows[:, :-latency], latency).numpy()
    assert np.array_equal(shifted, spike_digests(record.movedim(1, -1)))


def test_one_flipped_spike_changes_the_digest():
    spikes = np.zeros((1, 200, 11), dtype=np.uint8)
    base = spike_digests(spikes)[0]
    assert base == 0  # no spikes: nothing is summed
    seen = set()
    for neuron, step in [(0, 0), (63, 0), (64, 0), (199, 10), (5, 3)]:
        flipped = spikes.copy()
        flipped[0, neuron, step] = 1
        seen.add(int(spike_digests(flipped)[0]))
    assert len(seen) == 5 and base not in seen


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_gpu_computes_the_same_digests():
    rng = np.random.default_rng(4)
    spikes = (rng.random((5, 8, 6, 6, 9)) < 0.3).astype(np.uint8)
    spikes[2, 0, 0, 0, 0] = 5
    assert np.array_equal(spike_digests(torch.as_tensor(spikes).cuda()), spike_digests(spikes))
