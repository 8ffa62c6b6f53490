"""Which weights a run reports: the last epoch's or the best validation epoch's (`eval.select`).

A `best-val` run writes `best.pt` (a contract-1 checkpoint without the optimiser state) next to the
resumable `checkpoint.pt` whenever an epoch's validation accuracy beats every earlier one (ties keep the
earlier epoch). With a validation split the trainer scores the test split once, after training, on the
chosen weights and records it in `final.json`; what an export or `tmkt-train eval` should read is
`chosen_checkpoint(run_dir)`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from tmkt_common.atomic import write_json
from tmkt_common.documents import read_table
from tmkt_common.errors import RunFolderError

from ..checkpoint import CHECKPOINT, Checkpoint, read_checkpoint, write_checkpoint

BEST = "best.pt"
FINAL = "final.json"
SCORE = "val_acc"  # the selection score: validation accuracy under eval.readout


def best_score(run_dir: Path) -> float | None:
    """The validation accuracy of the weights kept in RUN_DIR/best.pt (None when there are none)."""
    path = run_dir / BEST
    return read_checkpoint(path).metrics.get(SCORE) if path.exists() else None


def keep_if_best(run_dir: Path, state: Checkpoint, line: dict, best: float | None) -> float | None:
    """Write `state` (less its optimiser) as RUN_DIR/best.pt when `line`'s validation accuracy beats
    `best`; returns the best score so far. Written before the resumable checkpoint, so a crash between the
    two re-runs that epoch rather than losing its weights."""
    score = line.get(SCORE)
    if score is None or (best is not None and score <= best):
        return best
    write_checkpoint(run_dir / BEST, replace(state, optimizer={}))
    return score


def chosen_path(run_dir: str | os.PathLike, select: str) -> Path:
    return Path(run_dir) / (BEST if select == "best-val" else CHECKPOINT)


def chosen_checkpoint(run_dir: str | os.PathLike) -> Path:
    """The checkpoint a run reports: the one its final.json names, else checkpoint.pt (runs without a
    validation split)."""
    final = read_final(run_dir)
    return Path(run_dir) / (final["checkpoint"] if final is not None else CHECKPOINT)


def write_final(run_dir: Path, doc: dict) -> None:
    write_json(doc, run_dir / FINAL)


def read_final(run_dir: str | os.PathLike) -> dict | None:
    """RUN_DIR/final.json (None: the run has none); a damaged one is a RunFolderError naming it."""
    path = Path(run_dir) / FINAL
    return read_table(path, "JSON", RunFolderError) if path.exists() else None
