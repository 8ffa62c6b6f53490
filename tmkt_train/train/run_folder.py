"""A training run's folder: which files make a run, whether `fit` may write there, what `--resume` continues,
and metrics.jsonl, which is always rebuilt from the checkpoint.

The checkpoint is the commit point of an epoch: it holds every metrics line so far, is renamed into place
(fsynced) first, and metrics.jsonl is rewritten from it after. A crash between the two leaves a checkpoint one
line ahead of metrics.jsonl, never the reverse, and the next `--resume` rewrites metrics.jsonl from the
checkpoint (a torn or missing last line included). A folder never shows a metrics line for an epoch whose
weights were not saved.
"""

from __future__ import annotations

import json
from pathlib import Path

from tmkt_common.atomic import atomic_write, check_writable, fsync_folder
from tmkt_common.errors import RunFolderError

from ..checkpoint import CHECKPOINT, Checkpoint, read_checkpoint
from ..config import TrainConfig, check_resume, load_config
from .selection import BEST, FINAL

METRICS = "metrics.jsonl"
CONFIG = "config.toml"
EVAL = "eval.json"
RUN_FILES = (METRICS, EVAL, FINAL, BEST, CONFIG, CHECKPOINT)  # the order --overwrite removes them in


def run_files(folder: Path) -> list[str]:
    """The run files `folder` holds (none: no run there)."""
    return [name for name in (CHECKPOINT, METRICS, CONFIG) if (folder / name).exists()]


def run_checkpoint(folder: Path) -> Checkpoint | None:
    """The checkpoint of the run in `folder` (None: none there). A resume reads it once and hands it on
    (recorded_config, check_run_folder, trainer.fit): checkpoints can be large."""
    path = folder / CHECKPOINT
    return read_checkpoint(path) if path.exists() else None


def recorded_config(folder: Path, ckpt: Checkpoint | None = None) -> tuple[TrainConfig, Path] | None:
    """The config the run in `folder` was trained with, and the file it came from: the checkpoint's (what the
    weights were trained with; `ckpt` if the caller has read it already), else config.toml (a run that
    crashed before its first epoch ended)."""
    if ckpt is None:
        ckpt = run_checkpoint(folder)
    if ckpt is not None:
        return ckpt.train, folder / CHECKPOINT
    if (folder / CONFIG).exists():
        return load_config(folder / CONFIG), folder / CONFIG
    return None


def check_run_folder(folder: Path, cfg: TrainConfig, *, resume: bool, overwrite: bool,
                     ckpt: Checkpoint | None = None) -> Checkpoint | None:
    """Everything `fit` checks before it writes: `folder` writable; a run there is continued only with
    `resume` (and a `cfg` that does not contradict it) and replaced only with `overwrite`. Returns the
    checkpoint a resume continues from (None: the run starts afresh); `ckpt` is the folder's checkpoint if
    the caller has read it already."""
    if resume and overwrite:
        raise RunFolderError(f"{folder}: --resume and --overwrite contradict each other; choose one")
    check_writable(folder)
    held = run_files(folder)
    if not held or overwrite:
        return None
    if not resume:
        raise RunFolderError(f"{folder}: holds a run ({', '.join(held)}); continue it with --resume, replace "
                             "it with --overwrite, or choose another --out")
    if ckpt is None:
        ckpt = run_checkpoint(folder)
    recorded = recorded_config(folder, ckpt)
    if recorded is not None:
        check_resume(recorded[0], cfg, str(recorded[1]))
    return ckpt


def clear_run(folder: Path) -> None:
    """Remove the run files of `folder` (--overwrite), checkpoint last: until it goes, the folder is the old
    run (resume rebuilds metrics.jsonl and config.toml from it, a best-val run re-selects); after, no run.
    Other files stay."""
    for name in RUN_FILES:
        (folder / name).unlink(missing_ok=True)
    if folder.is_dir():
        fsync_folder(folder)


def write_metrics(path: Path, lines: list[dict]) -> None:
    """metrics.jsonl as a whole, atomically (one JSON object per line)."""
    with atomic_write(path, "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)


def read_metrics(path: Path) -> list[dict]:
    """metrics.jsonl's lines; a torn last line (a write cut short) is dropped, a bad line elsewhere is a
    RunFolderError naming the file and line."""
    texts = [t for t in path.read_text().splitlines() if t.strip()] if path.exists() else []
    lines = []
    for number, text in enumerate(texts, 1):
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            if number == len(texts):
                break
            raise RunFolderError(f"{path}:{number}: not a metrics line ({exc.msg})") from exc
        if not isinstance(line, dict) or not isinstance(line.get("epoch"), int):
            raise RunFolderError(f"{path}:{number}: not a metrics line (no integer epoch)")
        lines.append(line)
    return lines


def committed_history(folder: Path, ckpt: Checkpoint) -> list[dict]:
    """The metrics lines of the epochs `ckpt` holds: its own record, or (a version 1-2 checkpoint, which kept
    none) metrics.jsonl's lines up to its epoch."""
    if len(ckpt.history) == ckpt.epoch + 1:
        return list(ckpt.history)
    return [line for line in read_metrics(folder / METRICS) if line["epoch"] <= ckpt.epoch]
