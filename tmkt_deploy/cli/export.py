"""`tmkt-deploy export`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tmkt_common.cli import check_out, fail, make_console, one_line

from . import app

if TYPE_CHECKING:
    from tmkt_deploy.check import CheckResult


TARGET_HELP = ("loihi2-sim (Lava fixed point + emulator), lava-cpu (Lava float), loihi2 (chip), nir, onnx "
               "(interop files, checked against the emulator).")


@app.command("export")
def export(
    checkpoint: Path = typer.Argument(..., help="A tmkt-train checkpoint.pt."),
    target: str = typer.Option("loihi2-sim", "--target", "-t", help=TARGET_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Export folder: ir/, network.net, check.json, ..."),
    samples: int = typer.Option(None, "--samples", "-n",
                                help="Test samples checked with the emulator (default: the whole test set)."),
    lava_samples: int = typer.Option(4, "--lava-samples",
                                     help="Of those, how many also run through Lava as the ground truth."),
    strict: bool = typer.Option(False, "--strict", help="Exit non-zero if any spike differs."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder of the dataset's files (not needed for "
                                                           "ndigits); never taken from the checkpoint."),
    cache_dir: Path = typer.Option(None, "--cache-dir",
                                   help="Frame cache (default: $TMKT_CACHE, else ~/.cache/tmkt)."),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds without progress before Lava fails."),
) -> None:
    """Quantize CHECKPOINT, run it on TARGET and check it spike for spike against the quantized model.

    Example: [cyan]tmkt-deploy export runs/scnn/checkpoint.pt -t loihi2-sim --out runs/scnn/deploy[/]."""
    from tmkt_deploy.export import export_checkpoint

    if not checkpoint.is_file():
        raise fail(f"{checkpoint}: checkpoint not found")
    check_out(out)
    data, cache = (str(p) if p else None for p in (data_dir, cache_dir))
    run_target(lambda: export_checkpoint(checkpoint, target=target, out=out, samples=samples,
                                         lava_samples=lava_samples, data_dir=data, cache_dir=cache,
                                         timeout_s=timeout),
               strict, out, source=checkpoint)


def run_target(work: Callable[[], CheckResult], strict: bool, out: Path, source: Path) -> None:
    """Run an export/re-run, print the tables, turn every known failure into one error line (a missing
    entry is named with `source`, the file or folder it was read from)."""
    from tmkt_deploy.check import check_tables

    try:
        result = work()
    except (ValueError, OSError, KeyError, RuntimeError) as exc:  # LavaStalled too
        raise fail(one_line(exc, source)) from exc
    console = make_console()
    for table in check_tables(result):
        console.print(table)
    console.print(f"wrote {out}/check.json, spikes.json and activity.npz")
    if strict and not result.exact:
        raise fail(f"--strict: spikes differ ({result.first_mismatch}); see {out}/check.json", code=1)
