"""Input arrays as netx takes them, for a netx file read into the IR: one place that says the layout.

netx's `Network.inp` is `(x, y, c)` (Lava's W, H, C) for a conv or input layer of rank 3, `(k,)` for a
dense-first chain or a 1-D input layer, and a Lava source sends one such frame per step: `(x, y, c, T)` or
`(k, T)`. A leading batch axis `N` runs several samples, each from zero state. Values may be bool, integer or
float spikes (netx's default `input_message_bits = 0` casts them to binary spikes) or, with message bits,
integer graded values. We convert to the IR's `(N, C, H, W, T)`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tmkt_common.errors import RunError

from ..ir import Network


def netx_layout(net: Network) -> str:
    """The input layout netx expects for `net`, with its sizes (for help and error messages)."""
    c, h, w = net.input_shape
    if net.meta.get("netx_flat_input"):
        return f"(k, T) or (N, k, T) with k = {c * h * w}"
    return f"(x, y, c, T) or (N, x, y, c, T) with x, y, c = {w}, {h}, {c}"


def read_array(path: str | Path) -> np.ndarray:
    """A .npy file (never unpickled), non-empty and real-valued; RunError names the file."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: input file not found")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise RunError(f"{path}: not a .npy array ({e})") from e
    if array.size == 0 or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) \
            or np.iscomplexobj(array):
        raise RunError(f"{path}: expected real spikes or graded values, got {array.dtype} {array.shape}")
    return array


def spatial_shape(array: np.ndarray) -> tuple[int, int, int] | None:
    """(C, H, W) of an (x, y, c, T) or (N, x, y, c, T) array; None for flat inputs. For files without an
    input layer that start with a conv, the data says the input shape, as netx's `input_shape` argument."""
    if array.ndim in (4, 5):
        x, y, c = array.shape[-4:-1]
        return (c, y, x)
    return None


def to_ir_frames(net: Network, array: np.ndarray, where: str) -> np.ndarray:
    """netx-layout inputs → the IR's (N, C, H, W, T); RunError showing the expected layout otherwise."""
    flat = bool(net.meta.get("netx_flat_input"))
    c, h, w = net.input_shape
    if flat and array.ndim in (2, 3) and array.shape[-2] == c * h * w:
        frames = array.reshape(-1, c * h * w, array.shape[-1])
        return frames.reshape(len(frames), c, h, w, frames.shape[-1])
    if not flat and array.ndim in (4, 5) and array.shape[-4:-1] == (w, h, c):
        frames = array.reshape(-1, *array.shape[-4:])
        return np.ascontiguousarray(frames.transpose(0, 3, 2, 1, 4))
    raise RunError(f"{where}: inputs of shape {array.shape}; {net.name} takes {netx_layout(net)}")
