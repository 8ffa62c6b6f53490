"""Per-sample spike digests, computed where the spikes are (a GPU's spikes never cross to the host whole).

A digest stands for one sample's spikes of one layer, laid out (*shape, P) in C order, time last (the layout
of `lava.simulate`): `blake2b` of the spike pattern packed eight steps to a byte (`numpy.packbits` order,
first value in the top bit), so the host hashes and receives an eighth of the bytes. A sample holding values
other than 0 and 1 (graded spikes) is hashed from its values instead, so no payload is lost. Any array type
(numpy or torch, any integer, bool or float dtype, any device) of the same values gives the same digest.
Format 2; format 1 (export folders before it) hashed one byte per spike: `DIGEST_FORMAT` tells them apart.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

DIGEST_BYTES = 16
DIGEST_FORMAT = 2
_BIT_SHIFTS = (7, 6, 5, 4, 3, 2, 1, 0)
# Rows hashed in a thread pool above this many bytes in all (hashlib releases the GIL on large buffers).
_POOL_BYTES = 1 << 24


def spike_digests(spikes: np.ndarray | torch.Tensor) -> np.ndarray:
    """One `DIGEST_BYTES` digest per sample of spikes (N, *shape, P), as a numpy `S16` array."""
    x = torch.as_tensor(spikes)
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    flat = x.reshape(len(x), -1)
    graded = ((flat != 0) & (flat != 1)).any(dim=1).cpu().numpy() if flat.numel() else np.zeros(len(x), bool)
    rows: list[bytes | np.ndarray] = list(_packed(flat != 0))
    for i in np.flatnonzero(graded):  # rare: graded spikes hashed from their values
        rows[i] = b"graded" + flat[i].to(torch.int64).cpu().numpy().tobytes()
    total = sum(len(row) for row in rows)
    if total < _POOL_BYTES or len(rows) < 2:
        return np.array([_hash(row) for row in rows], dtype=f"S{DIGEST_BYTES}")
    with ThreadPoolExecutor(min(len(rows), 16), thread_name_prefix="digest") as pool:
        return np.array(list(pool.map(_hash, rows)), dtype=f"S{DIGEST_BYTES}")


def _packed(bits: torch.Tensor) -> np.ndarray:
    """Bool rows (N, K) → `numpy.packbits(bits, axis=1)` (N, ceil(K / 8)) uint8 on the host; packed on the
    tensor's device, so only the packed bytes are copied back."""
    if bits.device.type == "cpu":
        return np.packbits(bits.numpy(), axis=1)
    return pack_bits(bits).cpu().numpy()


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """`numpy.packbits(bits, axis=1)` in torch, on the tensor's device: bool (N, K) → uint8 (N, ceil(K/8))."""
    pad = -bits.shape[1] % 8
    if pad:
        bits = torch.cat([bits, bits.new_zeros(len(bits), pad)], dim=1)
    shifts = torch.tensor(_BIT_SHIFTS, dtype=torch.uint8, device=bits.device)
    return (bits.view(len(bits), -1, 8).to(torch.uint8) << shifts).sum(dim=-1, dtype=torch.uint8)


def _hash(row: bytes | np.ndarray) -> bytes:
    data = row if isinstance(row, bytes) else memoryview(np.ascontiguousarray(row))
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()
