"""Write an output folder as one unit: build it beside its destination and move it in only when complete.

`tmkt_train.atomic.atomic_write` does this for one file; an export is several files that are only right
together (the IR, the samples and spike record taken with it, the check of both), so a failure halfway must
leave the destination as it was, never a new IR next to an old check. Our own code: the standard library has
atomic renames but no staged folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tmkt_train.atomic import default_mode


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
