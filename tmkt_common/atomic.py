"""Atomic writes: a file written to a temporary name in the same folder, then renamed; a folder staged beside
its destination and moved in only when complete.

A crash or a bad input never leaves a half-written file that looks complete (checkpoints, caches, reports),
nor an export folder with a new IR next to an old check. Results get the permissions a plain `open` would
give (temp files start owner-only). Our own code: the standard library has atomic renames but no staged
folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def default_mode(directory: bool = False) -> int:
    """Permissions a new file (or folder) gets from `open` (`mkdir`) under the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (its directory entry on disk), where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename itself is still atomic
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file next to `path`; on success fsync it and rename it over `path`, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def staged_folder(out: str | os.PathLike, owned: Iterable[str],
                  keep: tuple[type[BaseException], ...] = ()) -> Iterator[Path]:
    """Yield an empty folder next to `out` to write into; when the block ends, move its entries into `out`.

    Entries of `out` named in `owned` (an earlier run's outputs) are replaced or removed then; other files in
    `out` are left alone. If the block raises, the staged folder is deleted and `out` is untouched, unless
    the exception is one of `keep` (the files are complete, only a later step could not run): then they are
    moved in before it propagates.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    os.chmod(stage, default_mode(directory=True))  # mkdtemp's folder is owner-only; `out` must not be
    try:
        yield stage
    except keep:
        _move_in(stage, out, owned)
        raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _move_in(stage, out, owned)


def _move_in(stage: Path, out: Path, owned: Iterable[str]) -> None:
    """Renames only (same file system): a new `out` in one step, else the old owned entries out of the way
    first, then the new ones in."""
    if not out.exists():
        os.replace(stage, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    for name in {*owned, *(entry.name for entry in stage.iterdir())}:
        if os.path.lexists(out / name):
            os.replace(out / name, old / name)
    for entry in stage.iterdir():
        os.replace(entry, out / entry.name)
    stage.rmdir()
    shutil.rmtree(old)
