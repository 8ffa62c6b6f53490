"""Read event recordings into one structured dtype, using tonic's readers wherever one exists.

ATIS `.bin` (N-MNIST, N-Caltech101) → `tonic.io.read_mnist_file`; AEDAT4 (N-Omniglot, DAVIS) →
`tonic.io.read_aedat4`; CEP-DVS `.mat` (fields x, y, ts, p with p in {-1, 1}) → `scipy.io.loadmat`, since
tonic has no reader for it. Every reader returns `EVENT_DTYPE` (tonic's N-MNIST dtype: x, y, t [µs], p in {0
OFF, 1 ON}) sorted by time, and turns any failure into one `DatasetError` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io
import tonic

from tmkt_common.errors import DatasetError

EVENT_DTYPE = np.dtype(tonic.datasets.NMNIST.dtype)
ATIS_EVENT_BYTES = 5


def make_events(x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Build a time-sorted `EVENT_DTYPE` array from columns (stable sort keeps same-time order)."""
    events = tonic.io.make_structured_array(
        np.asarray(x), np.asarray(y), np.asarray(t), np.asarray(p), dtype=EVENT_DTYPE
    )
    if len(events) > 1 and np.any(np.diff(events["t"]) < 0):
        events = events[np.argsort(events["t"], kind="stable")]
    return events


def encode_atis(events: np.ndarray) -> bytes:
    """Events as ATIS 5-byte records (x, y, p·128 | t[22:16], t[15:8], t[7:0]), the inverse of the reader.

    For exporting emulated streams in N-MNIST format and for writing test fixtures; no overflow records, so
    timestamps must stay below 2²³ µs (8.4 s) and coordinates below 240.
    """
    x, y, t, p = (events[k].astype(np.int64) for k in ("x", "y", "t", "p"))
    if len(events) and (t.max() >= 1 << 23 or max(x.max(), y.max()) >= 240 or t.min() < 0):
        raise DatasetError("ATIS records hold timestamps in [0, 2^23) µs and coordinates below 240")
    records = np.stack([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF], axis=1)
    return records.astype(np.uint8).tobytes()


def read_atis_bin(path: str | Path) -> np.ndarray:
    """ATIS 5-byte records; a size that is not a multiple of 5 means the file was cut short."""
    path = Path(path)
    size = _size_or_error(path)
    if size == 0 or size % ATIS_EVENT_BYTES:
        raise DatasetError(
            f"{path}: truncated or corrupt ATIS .bin ({size} bytes, not a positive multiple of "
            f"{ATIS_EVENT_BYTES})"
        )
    events = tonic.io.read_mnist_file(str(path), dtype=EVENT_DTYPE)
    return make_events(events["x"], events["y"], events["t"], events["p"])


def read_aedat4(path: str | Path) -> np.ndarray:
    """AEDAT4 (LZ4/zstd packets) through tonic + the `aedat` decoder."""
    path = Path(path)
    _size_or_error(path)
    try:
        raw = tonic.io.read_aedat4(str(path))
    except Exception as err:  # the Rust decoder raises plain Exceptions/OSErrors for broken packets
        raise DatasetError(f"{path}: truncated or corrupt AEDAT4 file ({err})") from err
    return make_events(raw["x"], raw["y"], raw["t"], raw["p"].astype(np.int64))


def read_cepdvs_mat(path: str | Path) -> np.ndarray:
    """CEP-DVS MATLAB file with vectors x, y, ts and p ∈ {-1, 1} (mapped to OFF 0 / ON 1)."""
    path = Path(path)
    _size_or_error(path)
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises ValueError/TypeError/OSError depending on the damage
        raise DatasetError(f"{path}: truncated or corrupt .mat file ({err})") from err
    missing = [k for k in ("x", "y", "ts", "p") if k not in mat]
    if missing:
        raise DatasetError(f"{path}: .mat file lacks the event fields {missing} (needs x, y, ts, p)")
    x, y, ts, p = (np.asarray(mat[k]).reshape(-1).astype(np.int64) for k in ("x", "y", "ts", "p"))
    if not len(x) == len(y) == len(ts) == len(p):
        raise DatasetError(f"{path}: fields x, y, ts, p have different lengths")
    return make_events(x, y, ts, (p > 0).astype(np.int64))


READERS: dict[str, Callable[[str | Path], np.ndarray]] = {
    ".bin": read_atis_bin,
    ".aedat4": read_aedat4,
    ".mat": read_cepdvs_mat,
}


def read_events(path: str | Path) -> np.ndarray:
    """Pick the reader by file suffix."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(f"{path}: unknown event file type (known: {', '.join(READERS)})")
    return reader(path)


def _size_or_error(path: Path) -> int:
    if not path.is_file():
        raise DatasetError(f"{path}: event file not found")
    return path.stat().st_size
