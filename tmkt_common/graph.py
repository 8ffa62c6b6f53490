"""Names the trained graph (`tmkt_train.models`) and the integer IR (`tmkt_deploy.ir`) share."""

from __future__ import annotations

INPUT = "input"  # the input node every graph starts from


def pair(values) -> tuple[int, int]:
    """A 2-D size (stride, padding, kernel, ...) given as a tuple or tensor shape, as two ints."""
    return int(values[0]), int(values[1])
