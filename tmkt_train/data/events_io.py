"""Read event recordings into one structured dtype, using tonic's readers wherever one exists.

ATIS `.bin` (N-MNIST, N-Caltech101) → `tonic.io.read_mnist_file`; AEDAT4 (N-Omniglot, DAVIS) →
`tonic.io.read_aedat4`; CEP-DVS `.mat` (fields x, y, ts, p with p in {-1, 1}) → `scipy.io.loadmat`, since
tonic has no reader for it. Every reader returns `EVENT_DTYPE` (tonic's N-MNIST dtype: x, y, t [µs], p in {0
OFF, 1 ON}) sorted by time, and turns any failure into one `DatasetError` naming the file.

tonic decodes but checks nothing (a file of random bytes reads as events), so the checks here are ours: each
reader checks what its format lets it check (see `errors.py` for what is an error and what a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io
import tonic

from tmkt_common.errors import DatasetError, DatasetWarning

EVENT_DTYPE = np.dtype(tonic.datasets.NMNIST.dtype)
ATIS_EVENT_BYTES = 5
ATIS_SENSOR = (304, 240)  # the ATIS camera (width, height); a record with y == 240 is a timer overflow
NMNIST_SENSOR = (34, 34)
MAX_SENSOR_SIDE = 2048  # above the largest event sensors (1280 px wide), for formats that state no size
CEPDVS_POLARITIES = (-1, 0, 1)  # -1 (or 0) OFF, 1 ON


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


def read_atis_bin(
    path: str | Path, sensor_size: tuple[int, int] = ATIS_SENSOR, min_span_us: int | None = None
) -> np.ndarray:
    """ATIS 5-byte records (N-MNIST: `sensor_size=NMNIST_SENSOR`; N-Caltech101: the ATIS sensor).

    Refused (the format has no header or checksum, so these are what shows damage): an empty file; a size
    that is not a multiple of 5 (cut mid-record); no event records; an event outside `sensor_size`, or
    timestamps running backwards (the camera writes events in time order: bytes lost or inserted misalign
    every later record, and random bytes fail both). A file cut at a record boundary is a valid, shorter
    recording: when it spans less than `min_span_us` it loads with a `DatasetWarning`.
    """
    path = Path(path)
    size = _size_or_error(path)
    if size == 0:
        raise DatasetError(f"{path}: empty ATIS .bin file")
    if size % ATIS_EVENT_BYTES:
        raise DatasetError(
            f"{path}: truncated or corrupt ATIS .bin ({size} bytes, not a multiple of {ATIS_EVENT_BYTES})"
        )
    try:
        events = tonic.io.read_mnist_file(str(path), dtype=EVENT_DTYPE)
    except OSError as err:
        raise DatasetError(f"{path}: cannot read ({err})") from err
    if len(events) == 0:
        raise DatasetError(f"{path}: ATIS .bin holds no events (only timer-overflow records)")
    check_inside_sensor(path, events, sensor_size)
    backwards = np.flatnonzero(np.diff(events["t"].astype(np.int64)) < 0)
    if len(backwards):
        i = int(backwards[0]) + 1
        raise DatasetError(
            f"{path}: timestamps run backwards at event {i} ({events['t'][i - 1]} → {events['t'][i]} µs; "
            f"{len(backwards)} times in all): bytes lost or inserted, or not an ATIS recording"
        )
    span = int(events["t"][-1]) - int(events["t"][0])
    if min_span_us is not None and span < min_span_us:
        warnings.warn(
            f"{path}: the recording spans only {span / 1000:.0f} ms, less than the "
            f"{min_span_us / 1000:.0f} ms its saccades take: cut short?", DatasetWarning, stacklevel=2,
        )
    return events


def read_aedat4(path: str | Path, sensor_size: tuple[int, int] | None = None) -> np.ndarray:
    """AEDAT4 (LZ4/zstd packets) through tonic + the `aedat` decoder.

    Events must lie inside `sensor_size`, or else inside the size the file's event stream declares. AEDAT4
    records events in time order; a stream that is not loads sorted, with a `DatasetWarning`.
    """
    path = Path(path)
    _size_or_error(path)
    try:
        raw = tonic.io.read_aedat4(str(path))
        declared = declared_aedat4_size(path)
    except Exception as err:  # the Rust decoder raises plain Exceptions/OSErrors for broken packets
        raise DatasetError(f"{path}: truncated or corrupt AEDAT4 file ({err})") from err
    if len(raw) == 0:
        raise DatasetError(f"{path}: AEDAT4 event stream holds no events")
    events = tonic.io.make_structured_array(raw["x"], raw["y"], raw["t"], raw["p"], dtype=EVENT_DTYPE)
    check_inside_sensor(path, events, sensor_size or declared)
    backwards = int(np.count_nonzero(np.diff(events["t"].astype(np.int64)) < 0))
    if backwards:
        warnings.warn(f"{path}: AEDAT4 events out of time order ({backwards} steps back); sorted",
                      DatasetWarning, stacklevel=2)
    return make_events(events["x"], events["y"], events["t"], events["p"])


def declared_aedat4_size(path: Path) -> tuple[int, int]:
    """(width, height) of the event stream tonic reads (the lowest-numbered one), from the file's header."""
    import aedat  # tonic's AEDAT4 backend

    streams = aedat.Decoder(str(path)).id_to_stream()
    stream = streams[min(i for i, s in streams.items() if s["type"] == "events")]
    return int(stream["width"]), int(stream["height"])


def read_cepdvs_mat(path: str | Path) -> np.ndarray:
    """CEP-DVS MATLAB file with vectors x, y, ts and p ∈ {-1, 1} (mapped to OFF 0 / ON 1; 0 reads as OFF).

    Refused: a file scipy cannot read, missing fields, fields of different lengths or none, values that are
    not finite integers, negative coordinates or timestamps, coordinates of `MAX_SENSOR_SIDE` or more (the
    format states no sensor size; this bound keeps a garbage value from asking for a giant frame), polarities
    outside {-1, 0, 1}. The format promises no order: events are sorted by time.
    """
    path = Path(path)
    _size_or_error(path)
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises ValueError/TypeError/OSError depending on the damage
        raise DatasetError(f"{path}: truncated or corrupt .mat file ({err})") from err
    missing = [k for k in ("x", "y", "ts", "p") if k not in mat]
    if missing:
        raise DatasetError(f"{path}: .mat file lacks the event fields {missing} (needs x, y, ts, p)")
    fields = {k: _integer_field(path, k, mat[k]) for k in ("x", "y", "ts", "p")}
    if len({len(v) for v in fields.values()}) != 1 or len(fields["x"]) == 0:
        raise DatasetError(f"{path}: fields x, y, ts, p must be equally long and not empty, got "
                           f"{ {k: len(v) for k, v in fields.items()} }")
    x, y, ts, p = fields.values()
    if min(x.min(), y.min(), ts.min()) < 0 or max(x.max(), y.max()) >= MAX_SENSOR_SIDE:
        raise DatasetError(f"{path}: coordinates must lie in [0, {MAX_SENSOR_SIDE}) and timestamps be ≥ 0, "
                           f"got x {x.min()}…{x.max()}, y {y.min()}…{y.max()}, ts from {ts.min()}")
    if not np.isin(p, CEPDVS_POLARITIES).all():
        raise DatasetError(f"{path}: polarity p must be -1 or 1, got {sorted(set(p.tolist()))[:5]}")
    return make_events(x, y, ts, (p > 0).astype(np.int64))


def _integer_field(path: Path, name: str, value: np.ndarray) -> np.ndarray:
    """A .mat field as a 1-D int64 vector, or a `DatasetError` if it holds anything but finite integers."""
    value = np.asarray(value).reshape(-1)
    if value.dtype.kind not in "biuf":
        raise DatasetError(f"{path}: field {name} is not numeric ({value.dtype})")
    if value.dtype.kind == "f" and not (np.isfinite(value).all() and np.all(value == np.round(value))):
        raise DatasetError(f"{path}: field {name} holds values that are not whole numbers")
    return value.astype(np.int64)


def check_inside_sensor(path: Path, events: np.ndarray, sensor_size: tuple[int, int]) -> None:
    """Every event inside `sensor_size` (width, height), else a `DatasetError` naming the first outside."""
    width, height = sensor_size
    outside = np.flatnonzero((events["x"] >= width) | (events["y"] >= height))
    if len(outside):
        first = events[outside[0]]
        raise DatasetError(
            f"{path}: {len(outside)} events outside the {width}×{height} sensor (first: event "
            f"{outside[0]} at x={first['x']}, y={first['y']}): not a recording of this sensor, or corrupt"
        )


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
