"""Atomic writes: a file written to a temporary name in the same folder, then renamed; a folder built whole
beside its destination and swapped in only when complete.

A crash or a bad input never leaves a half-written file that looks complete (checkpoints, caches, reports),
nor an export folder with a new `check.json` next to an old (or no) `ir/`. Results get the permissions a plain
`open` would give (temp files start owner-only). Temp names carry the writer's pid
(`.NAME.PID.XXXXXXXX.{tmp,partial,old,new}`), so a later run can tell a crash's leftover from a live writer's
and remove it (`remove_leftovers`, `recover`).

A staged folder is built in `.NAME.PID.XXXXXXXX.partial` (the entries of `out` it does not replace are
hard-linked in), then exchanged with `out` in one step (Linux `renameat2(RENAME_EXCHANGE)`; elsewhere two
renames, with the window closed by `recover` at the next run), and the old folder, now under the staged name,
is deleted. Our own code: the standard library has atomic renames but no staged folder or exchange.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import FolderError


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


def check_writable(folder: str | os.PathLike) -> None:
    """A FolderError naming `folder` unless it is, or can be made, a folder this process can write to. Probes
    the nearest existing folder with a temp file, removed at once: os.access would not do (root passes it
    for read-only mounts such as /sys)."""
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise FolderError(f"{folder}: cannot be a folder, {existing} is a file")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise FolderError(f"{folder}: cannot write in {existing} ({exc.strerror or exc})") from exc


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file next to `path`; on success fsync it and rename it over `path`, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
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


def write_json(doc: dict, path: str | os.PathLike) -> Path:
    """`doc` as indented JSON at `path`, atomically (`atomic_write`)."""
    path = Path(path)
    with atomic_write(path, "w") as f:
        json.dump(doc, f, indent=1)
    return path


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


AT_FDCWD, RENAME_EXCHANGE = -100, 2  # fcntl.h, linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the system cannot (then nothing changed)."""
    if sys.platform != "linux":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    if libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system or kernel cannot
        return False
    raise OSError(errno, os.strerror(errno), str(a))


def _crashed(out: Path, suffix: str) -> list[Path]:
    """`out`'s staged folders with `suffix` whose writer is gone."""
    found = out.parent.glob(f".{out.name}.*.{suffix}") if out.parent.is_dir() else ()
    matches = [(path, LEFTOVER.match(path.name)) for path in found]
    return [path for path, m in matches if m and m["name"] == out.name and not alive(int(m["pid"]))]


def recover(out: str | os.PathLike) -> None:
    """Undo what a crashed run of `out` left: finish or roll back a two-rename swap cut in the middle (`out`
    missing: the complete new folder goes in, else the old one back), then delete staged folders and temp
    files whose writer is gone."""
    out = Path(out)
    if not os.path.lexists(out):
        for leftover in (*_crashed(out, "new"), *_crashed(out, "old")):
            os.rename(leftover, out)
            break
    remove_leftovers(out.parent, out.name)
    remove_leftovers(out)


@contextmanager
def staged_folder(out: str | os.PathLike, owned: Iterable[str],
                  keep: tuple[type[BaseException], ...] = ()) -> Iterator[Path]:
    """Yield an empty folder next to `out` to write into; when the block ends, swap it in for `out`.

    Entries of `out` named in `owned` (an earlier run's outputs) are replaced or dropped then; other entries
    of `out` are kept (linked into the new folder). If the block raises, the staged folder is deleted and
    `out` is untouched, unless the exception is one of `keep` (the files are complete, only a later step
    could not run): then they are swapped in before it propagates.
    """
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".partial", dir=out.parent))
    os.chmod(stage, default_mode(directory=True))  # mkdtemp's folder is owner-only; `out` must not be
    try:
        yield stage
    except keep:
        _swap_in(stage, out, owned)
        raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _swap_in(stage, out, owned)


def _link_tree(source: Path, target: Path) -> None:
    """`source` re-created at `target` with hard links (a copy where links are refused): cheap and leaves
    `source` intact until the swap."""
    shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _swap_in(stage: Path, out: Path, owned: Iterable[str]) -> None:
    """Complete `stage` with `out`'s entries it does not replace, then exchange the two folders."""
    if not os.path.lexists(out):
        os.rename(stage, out)
        return
    replaced = {*owned, *(entry.name for entry in stage.iterdir())}
    for entry in out.iterdir():
        if entry.name not in replaced:
            if entry.is_dir() and not entry.is_symlink():
                _link_tree(entry, stage / entry.name)
            elif entry.is_symlink():
                os.symlink(os.readlink(entry), stage / entry.name)
            else:
                _link_or_copy(str(entry), str(stage / entry.name))
    if _exchange(stage, out):
        shutil.rmtree(stage)  # the old folder, now under the staged name
        return
    complete = stage.rename(stage.with_suffix(".new"))
    old = stage.with_suffix(".old")
    os.rename(out, old)
    os.rename(complete, out)
    shutil.rmtree(old)
