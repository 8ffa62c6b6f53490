"""`tmkt-deploy run`."""

from __future__ import annotations

from pathlib import Path

import typer

from tmkt_common.cli import check_out, fail

from . import app
from .export import TARGET_HELP, run_target


@app.command("run")
def run(
    directory: Path = typer.Argument(..., help="A folder written by `tmkt-deploy export`."),
    target: str = typer.Option("loihi2-sim", "--target", "-t", help=TARGET_HELP),
    lava_samples: int = typer.Option(4, "--lava-samples",
                                     help="Saved samples that also run through Lava as the ground truth."),
    strict: bool = typer.Option(False, "--strict", help="Exit non-zero if any spike differs."),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds without progress before Lava fails."),
) -> None:
    """Check an export again (same IR, same saved samples): emulator on all, Lava on the first few;
    rewrites check.json and spikes.json.

    Example: [cyan]tmkt-deploy run runs/scnn/deploy --lava-samples 16[/]."""
    from tmkt_deploy.export import rerun

    if not directory.is_dir():
        raise fail(f"{directory}: not a folder written by `tmkt-deploy export`")
    check_out(directory, "DIRECTORY")
    run_target(lambda: rerun(directory, target=target, lava_samples=lava_samples, timeout_s=timeout),
               strict, directory, source=directory)
