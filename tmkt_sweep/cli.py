"""`tmkt-sweep`: the method comparison (train → deploy → energy per run, one table), above both halves."""

from __future__ import annotations

from pathlib import Path

import typer

from tmkt_common.cli import check_out, fail, make_console, one_line

app = typer.Typer(name="tmkt-sweep", rich_markup_mode="rich", add_completion=False)


@app.command()
def sweep(
    out: Path = typer.Option(Path("runs/compare"), "--out", help="Folder: runs/NAME/result.json + results.*"),
    grid: str = typer.Option("full", "--grid",
                             help="full (GPU, issue 9), evidence, ablations or recipe (GPU, issue 19: 5 "
                                  "seeds, equal steps, best validation epoch), energy (GPU, issue 15: the "
                                  "accuracy-energy frontier), or the tiny CPU runs cpu-smoke, "
                                  "energy-cpu-smoke."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    epochs: int = typer.Option(None, help="Override every backbone's epochs (default: the grid's)."),
    steps: int = typer.Option(None, help="Override every backbone's optimiser-step budget (default: the "
                                         "grid's; the evidence, ablations and recipe grids train by steps)."),
    seeds: int = typer.Option(None, help="Seeds 0..N-1 instead of the grid's 5 (evidence, ablations, "
                                         "recipe)."),
    only: str = typer.Option(None, "--only", help="Glob(s) on run names, comma-separated, e.g. 'scnn-*' "
                                                  "or '*-s0,*-s1': split the grid across sessions."),
    lava_samples: int = typer.Option(4, "--lava-samples", help="Samples Lava fixed_pt checks (0: none)."),
    table_only: bool = typer.Option(False, "--table-only", help="Only assemble the table from result files."),
    jobs: int = typer.Option(1, "--jobs", "-j",
                             help="Runs at once, each in its own process, its log in runs/NAME/log.txt "
                                  "(small nets leave a GPU mostly idle: try 4)."),
) -> None:
    """TMKT vs dvs-only vs sliding-KT per backbone: train → loihi2-sim export → energy → one table.

    Each run writes OUT/runs/NAME/result.json and is skipped when it exists, so the grid can be filled over
    several sessions; the table (OUT/results.json, results.md, results.png) is rebuilt from those files.
    Example: [cyan]tmkt-sweep --grid full --only 'scnn-*' --out runs/compare[/]."""
    from . import ENERGY_GRIDS, rich_table
    from . import sweep as run_sweep

    given = {"--grid": grid, "--device": device, "--epochs": epochs, "--steps": steps, "--seeds": seeds,
             "--only": only,
             "--lava-samples": lava_samples, "--jobs": jobs, "--out": out}
    command = "tmkt-sweep " + " ".join(f"{k} {v}" for k, v in given.items() if v is not None)
    check_out(out)
    try:
        rows = run_sweep(out, grid=grid, device=device, epochs=epochs, only=only, lava_samples=lava_samples,
                         table_only=table_only, command=command, jobs=jobs, seeds=seeds, steps=steps)
    except (ValueError, RuntimeError, OSError) as exc:
        raise fail(one_line(exc)) from exc
    console = make_console()
    if grid in ENERGY_GRIDS:
        console.print((out / "results.md").read_text())
    elif rows:
        console.print(rich_table(rows))
    console.print(f"wrote {out}/results.md, results.json, results.png; each run's learning curves in "
                  f"{out}/runs/NAME/train/curves.png")


if __name__ == "__main__":
    app()
