"""`tmkt-deploy run`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tmkt_common.cli import check_out, fail, make_console, one_line

from . import app
from .export import TARGET_HELP, run_target
from .import_netx import INPUT_HELP


@app.command("run")
def run(
    directory: Path = typer.Argument(..., help="A folder written by `tmkt-deploy export`, or an IR folder "
                                               "written by `import-netx` (with --input)."),
    target: str = typer.Option("loihi2-sim", "--target", "-t", help=TARGET_HELP),
    lava_samples: int = typer.Option(4, "--lava-samples",
                                     help="Saved samples that also run through Lava as the ground truth."),
    strict: bool = typer.Option(False, "--strict", help="Exit non-zero if any spike differs."),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds without progress before Lava fails."),
    inputs: Path = typer.Option(None, "--input", help=f"For an import-netx folder: {INPUT_HELP}"),
) -> None:
    """Check an export again (same IR, same saved samples): emulator on all, Lava on the first few;
    rewrites check.json, spikes.json and activity.npz. For an [bold]import-netx[/] folder with
    [cyan]--input[/]: emulator on all inputs, Lava on the first few, every layer compared value for value;
    writes nothing.

    Example: [cyan]tmkt-deploy run runs/scnn/deploy --lava-samples 16[/]."""
    if inputs is not None:
        _run_netx(directory, inputs, lava_samples, strict)
        return
    if (directory / "network.json").is_file():
        raise fail(f"{directory}: an IR folder (import-netx); give its inputs with --input X.npy")
    from tmkt_deploy.export import rerun

    if not directory.is_dir():
        raise fail(f"{directory}: not a folder written by `tmkt-deploy export`")
    check_out(directory, "DIRECTORY")
    run_target(lambda: rerun(directory, target=target, lava_samples=lava_samples, timeout_s=timeout),
               strict, directory, source=directory)


def _run_netx(directory: Path, inputs: Path, lava_samples: int, strict: bool) -> None:
    from tmkt_deploy.interop.netx_check import check_netx_ir

    try:
        check = check_netx_ir(directory, inputs, lava_samples)
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as exc:
        raise fail(one_line(exc, inputs)) from exc
    table = Table(title=f"{check.net.name}: {check.samples} sample(s), {check.lava_samples} also in Lava")
    for col in ("layer", "messages / sample", "values differing from Lava"):
        table.add_column(col)
    for name, count in check.messages.items():
        table.add_row(name, f"{count:,.1f}", "—" if name == "input" else str(check.mismatches[name]))
    make_console().print(table)
    if strict and not check.exact:
        raise fail(f"--strict: emulator and Lava differ on {sum(check.mismatches.values())} values", code=1)
