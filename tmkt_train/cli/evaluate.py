"""`tmkt-train eval`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tmkt_common.cli import fail, make_console, one_line

from . import app


@app.command("eval")
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run folder written by tmkt-train fit."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder of the dataset's files (not needed for "
                                                           "ndigits); never taken from the checkpoint."),
    cache_dir: Path = typer.Option(None, "--cache-dir",
                                   help="Frame cache (default: $TMKT_CACHE, else ~/.cache/tmkt)."),
) -> None:
    """Re-evaluate a trained run on pure event input; prints a table and writes RUN_DIR/eval.json."""
    from ..train.curves import CURVES
    from ..train.evaluate import evaluate_run

    try:
        result = evaluate_run(run_dir, device, data_dir=data_dir and str(data_dir),
                              cache_dir=cache_dir and str(cache_dir))
    except (ValueError, RuntimeError, OSError) as exc:
        raise fail(one_line(exc)) from exc
    table = Table(title=f"tmkt-train eval {run_dir}")
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console = make_console()
    console.print(table)
    if (run_dir / CURVES).exists():
        console.print(f"learning curves: {run_dir / CURVES}")
