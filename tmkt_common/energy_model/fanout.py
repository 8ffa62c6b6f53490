"""Exact structural fan-out: for each source neuron, how many target neurons its spike reaches.

Our own code because no library counts event-driven work per source neuron: the usual SNN "SOP" counters
multiply spikes by a layer's mean fan-out and ignore convolution borders. A conv source pixel reaches only the
outputs whose receptive field covers it (padding, stride and dilation make border pixels reach fewer), and
only the `C_out / groups` output channels of its group; a dense source reaches every target. Sum-pooling is
what the IR makes of it: a depthwise conv (groups = C, one output channel per group, stride = kernel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Connection:
    """The geometry of one synapse: `source_shape` → `target_shape` ((C, H, W) or (N,)); conv fields only
    for `kind="conv"` (`c_out` = target channels)."""

    kind: Literal["dense", "conv"]
    source_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1


def axis_reach(size_in: int, size_out: int, kernel: int, stride: int, pad: int, dilation: int) -> np.ndarray:
    """(kernel, size_in) 0/1: whether input index i is read through kernel tap k by some output index."""
    reach = np.zeros((kernel, size_in), dtype=np.int64)
    pos = np.arange(size_in)
    for k in range(kernel):
        offset = pos + pad - k * dilation  # = out_index * stride when input `pos` is tap k of that output
        out = offset // stride
        reach[k] = (offset % stride == 0) & (out >= 0) & (out < size_out)
    return reach


def _reaches(conn: Connection) -> tuple[np.ndarray, np.ndarray]:
    (_, h, w), (_, h_out, w_out) = conn.source_shape, conn.target_shape
    rows = axis_reach(h, h_out, conn.kernel[0], conn.stride[0], conn.padding[0], conn.dilation[0])
    cols = axis_reach(w, w_out, conn.kernel[1], conn.stride[1], conn.padding[1], conn.dilation[1])
    return rows, cols


def fanout(conn: Connection) -> np.ndarray:
    """Number of target neurons each source neuron reaches (int64, shaped like the source)."""
    if conn.kind == "dense":
        return np.full(conn.source_shape, int(np.prod(conn.target_shape)), dtype=np.int64)
    rows, cols = _reaches(conn)
    per_channel = (conn.target_shape[0] // conn.groups) * np.outer(rows.sum(0), cols.sum(0))
    return np.broadcast_to(per_channel, conn.source_shape).copy()


def nonzero_fanout(conn: Connection, weight: np.ndarray) -> np.ndarray:
    """Like `fanout`, counting only connections whose weight is nonzero (what a chip mapping that drops
    zero-weight synapses walks). `weight`: dense (out, in), conv (out, in // groups, kh, kw)."""
    if conn.kind == "dense":
        return (weight != 0).sum(axis=0).reshape(conn.source_shape).astype(np.int64)
    c_in = conn.source_shape[0]
    per_group_in, per_group_out = c_in // conn.groups, conn.target_shape[0] // conn.groups
    rows, cols = _reaches(conn)
    # taps[c, kh, kw]: output channels of c's group that read input channel c through tap (kh, kw) with w != 0
    nonzero = (weight != 0).reshape(conn.groups, per_group_out, per_group_in, *weight.shape[2:])
    taps = nonzero.sum(axis=1).reshape(c_in, *weight.shape[2:]).astype(np.int64)
    return np.einsum("ckl,ky,lx->cyx", taps, rows, cols)
