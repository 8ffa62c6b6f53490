"""The one error hierarchy: every bad input tmkt reports is a `TmktError`, importable without torch or Lava.

Each subclass also derives from the builtin its callers used to catch (ValueError / RuntimeError), so the
CLIs' one-line error handling catches them all; the message names the file, layer or option.
"""

from __future__ import annotations


class TmktError(Exception):
    """Base of every tmkt error."""


class DatasetError(TmktError, ValueError):
    """Bad dataset input; the message names the path or dataset name and says what would work."""


class ConfigError(TmktError, ValueError):
    """A config file or table that cannot be read or has unknown keys; names the file and the key."""


class CheckpointError(TmktError, ValueError):
    """A checkpoint that is missing, unreadable, foreign or of an unknown version; names the file."""


class UnsupportedError(TmktError, ValueError):
    """A construct a target (the chip, Lava, netx, NIR, ONNX, or the IR on import) cannot express; the
    message names the layer/node and the reason."""

    def __init__(self, where: str, reason: str | None = None) -> None:
        super().__init__(where if reason is None else f"{where}: {reason}")


class ProfileError(TmktError, ValueError):
    """A hardware profile that is missing or malformed; names the file and the key."""


class RunError(TmktError, ValueError):
    """An input of the energy report is missing or malformed; names the file and the key."""


class TargetUnavailable(TmktError, RuntimeError):
    """The requested target cannot run on this machine; the message says what to install. The files written
    for it are complete (an export keeps them)."""


class LavaStalled(TmktError, RuntimeError):
    """A Lava run made no progress within its timeout."""
