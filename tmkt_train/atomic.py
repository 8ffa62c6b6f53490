"""Atomic file writes: write to a temporary name in the same folder, then rename.

A crash or a bad input never leaves a half-written file that looks complete (checkpoints, caches, reports).
The result gets the permissions a plain `open` would give (the temp file starts owner-only). Temp names carry
the writer's pid (`.NAME.PID.XXXXXXXX.tmp`), so a later run can tell a crash's leftover from a live writer's
file and remove it (`remove_leftovers`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def default_mode(directory: bool = False) -> int:
    """Permissions a new file (or folder) gets from `open` (`mkdir`) under the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file next to `path`; on success rename it over `path`, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.(?:tmp|partial|old|new)$")


def alive(pid: int) -> bool:
    """Whether process `pid` is running (a leftover's writer may still be at work)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return pid > 0


def remove_leftovers(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete what crashed writers left in `folder` (temp files of `atomic_write`, staged folders): entries
    named `.NAME.PID.XXXXXXXX.{tmp,partial,old,new}` whose PID is no longer running (of target `name` only, if
    given). Returns what was removed."""
    folder = Path(folder)
    removed = []
    for entry in folder.iterdir() if folder.is_dir() else ():
        match = LEFTOVER.match(entry.name)
        if match is None or (name is not None and match["name"] != name) or alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
