"""The one error type of the interop converters, so callers (CLIs, tests) can tell "cannot express" apart."""

from __future__ import annotations


class UnsupportedError(ValueError):
    """A construct the target (or the IR, on import) cannot express; the message names the layer/node."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
