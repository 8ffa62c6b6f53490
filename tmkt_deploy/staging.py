"""Write an output folder as one unit: build it beside its destination and swap it in only when complete.

`tmkt_train.atomic.atomic_write` does this for one file; an export is several files that are only right
together (the IR, the samples and spike record taken with it, the check of both), so a failure or a crash
at any point must leave the destination as it was or as the new one, never a new `check.json` next to an
old (or no) `ir/`. The new folder is built whole in `.NAME.PID.XXXXXXXX.partial` (the entries of `out` it
does not replace are hard-linked in), then exchanged with `out` in one step (Linux
`renameat2(RENAME_EXCHANGE)`; elsewhere two renames, with the window closed by `recover` at the next run), and
the old folder, now under the staged name, is deleted. The next run of the same folder removes what a crash
left (`recover`). Our own code: the standard library has atomic renames but no staged folder or exchange.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tmkt_train.atomic import LEFTOVER, alive, default_mode, remove_leftovers

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
