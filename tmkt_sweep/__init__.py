"""The method comparison of issue 9, above training and deployment (nothing imports this package):
a grid of runs (grid), one run end to end (runner), the table (table).

`tmkt-sweep` (cli.py) and `examples/compare_methods.py` are thin wrappers over `sweep(...)` below.
"""

from __future__ import annotations

import importlib
import os

from .grid import ENERGY_GRIDS, GRIDS, RunSpec, Settings, build_grid

# imported on first use: the runner brings torch and lava-dl, seconds that `tmkt-sweep --help` and a
# `--table-only` run do not need
_LAZY = {"run_grid": "runner", "run_one": "runner", "rich_table": "table", "summarize": "table",
         "write_table": "table", "write_frontier": "frontier"}

__all__ = ["ENERGY_GRIDS", "GRIDS", "RunSpec", "Settings", "build_grid", "rich_table", "run_grid", "run_one",
           "summarize",
           "sweep", "write_frontier", "write_table"]


def sweep(out_dir: str | os.PathLike, *, grid: str = "full", device: str = "auto", epochs: int | None = None,
          only: str | None = None, lava_samples: int = 4, table_only: bool = False,
          command: str | None = None, jobs: int = 1, seeds: int | None = None,
          steps: int | None = None) -> list[dict]:
    """Run the missing runs of `grid` (filtered by `only`; `seeds`, `steps` and `epochs` override the grid's)
    into OUT/runs, `jobs` at a time, then write the table (its rows): the accuracy-energy frontier for the
    energy grids."""
    from .frontier import write_frontier
    from .table import write_table

    if grid not in GRIDS:
        raise ValueError(f"--grid {grid!r}: choose one of {sorted(GRIDS)}")
    if not table_only:
        from .runner import run_grid

        run_grid(build_grid(grid, epochs=epochs, only=only, seeds=seeds, steps=steps), out_dir, device=device,
                 lava_samples=lava_samples, command=command, jobs=jobs)
    return write_frontier(out_dir) if grid in ENERGY_GRIDS else write_table(out_dir)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
