"""The method comparison of issue 9, above training and deployment (nothing imports this package):
a grid of runs (grid), one run end to end (runner), the table (table).

`tmkt-sweep` (cli.py) and `examples/compare_methods.py` are thin wrappers over `sweep(...)` below.
"""

from __future__ import annotations

import os

from .grid import GRIDS, RunSpec, Settings, build_grid
from .runner import run_grid, run_one
from .table import rich_table, summarize, write_table

__all__ = ["GRIDS", "RunSpec", "Settings", "build_grid", "rich_table", "run_grid", "run_one", "summarize",
           "sweep", "write_table"]


def sweep(out_dir: str | os.PathLike, *, grid: str = "full", device: str = "auto", epochs: int | None = None,
          only: str | None = None, lava_samples: int = 4, table_only: bool = False,
          command: str | None = None, jobs: int = 1, seeds: int | None = None,
          steps: int | None = None) -> list[dict]:
    """Run the missing runs of `grid` (filtered by `only`; `seeds`, `steps` and `epochs` override the grid's)
    into OUT/runs, `jobs` at a time, then write the table (its rows)."""
    if not table_only:
        run_grid(build_grid(grid, epochs=epochs, only=only, seeds=seeds, steps=steps), out_dir, device=device,
                 lava_samples=lava_samples, command=command, jobs=jobs)
    return write_table(out_dir)
