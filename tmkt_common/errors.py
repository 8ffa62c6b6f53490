"""The one error hierarchy: every bad input tmkt reports is a `TmktError`, importable without torch or Lava.

Each subclass also derives from the builtin its callers used to catch (ValueError / RuntimeError), so the
CLIs' one-line error handling catches them all; the message names the file, layer or option.
"""

from __future__ import annotations


class TmktError(Exception):
    """Base of every tmkt error."""


class DatasetError(TmktError, ValueError):
    """Bad dataset input; the message names the path or dataset name and says what would work.

    Policy: a file that cannot be what its format says (cut mid-record, events outside the sensor, timestamps
    running backwards where the format records them in order, random bytes, no events) is a `DatasetError`
    and nothing is cached; a file that is valid but looks damaged loads with a `DatasetWarning` naming it.
    """


class DatasetWarning(UserWarning):
    """Data that loads but looks damaged (a short ATIS recording, an AEDAT4 stream out of time order, an
    N-Omniglot window partly outside its recording); the message names the file and what looks wrong."""


class ConfigError(TmktError, ValueError):
    """A config file or table that cannot be read or has unknown keys; names the file and the key."""


class CheckpointError(TmktError, ValueError):
    """A checkpoint that is missing, unreadable, foreign, of an unknown version or not loadable without
    running code from it; names the file."""


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


class FolderError(TmktError, ValueError):
    """A folder a command must write that cannot be: a file on its path, or no right to write there."""


class RunFolderError(FolderError):
    """A training run folder that cannot be written, or that holds a run the command would overwrite or
    contradict; names the folder and the option that would work."""
