"""`tmkt-deploy report`."""

from __future__ import annotations

from pathlib import Path

import typer

from tmkt_common.cli import check_out, fail, make_console, one_line

from . import app
from .import_netx import INPUT_HELP, INPUT_MESSAGE_BITS, RESET_INTERVAL, RESET_OFFSET, SPIKE_EXP, netx_options


@app.command("report")
def report(
    run_dirs: list[Path] = typer.Argument(None,
                                          help="Export run directories: ir/, check.json, activity.npz."),
    profile: list[str] = typer.Option(None, "--profile", "-p",
                                      help="Hardware profile name (loihi2, ann-int8-45nm, ...) or a TOML "
                                           "file; "
                                           "repeat for several. Default: every profile in hw_profiles/."),
    out: Path = typer.Option(Path("report"), "--out", "-o", help="Folder for report.md, report.json, PNGs."),
    netx: Path = typer.Option(None, "--netx", help="A lava-dl netx HDF5 trained elsewhere (needs --input)."),
    nir_file: Path = typer.Option(None, "--nir", help="A NIR graph from snnTorch, Norse, sinabs, Rockpool... "
                                                      "(quantised to Loihi weights; needs --input)."),
    inputs: Path = typer.Option(None, "--input", help=f"For --nir: graded input spikes (N, C, H, W, T) .npy; "
                                                      f"for --netx: {INPUT_HELP}"),
    input_message_bits: int = INPUT_MESSAGE_BITS,
    reset_interval: int = RESET_INTERVAL,
    reset_offset: int = RESET_OFFSET,
    spike_exp: int = SPIKE_EXP,
    schedule: str = typer.Option(
        "isolated", "--schedule",
        help="Headline schedule (both are always priced): isolated = T + latency steps per sample (what Lava "
             "and the spike check run), streaming = T steps per sample, latency paid once per stream."),
) -> None:
    """Energy per inference, spikes, synops, latency, cores/chips and accuracy per backbone and chip.

    Example: [cyan]tmkt-deploy report runs/scnn/deploy runs/vgg/deploy -p loihi2 -p ann-45nm --out cmp[/];
    a lava-dl model: [cyan]tmkt-deploy report --netx trained.net --input x.npy --out rep[/]."""
    from tmkt_deploy.report.make import make_report  # matplotlib loads only when a report is made
    from tmkt_deploy.report.table import summary_table

    if not run_dirs and netx is None and nir_file is None:
        raise fail("give at least one RUN_DIR, or --netx FILE / --nir FILE with --input SPIKES.npy")
    check_out(out)
    try:
        doc = make_report(run_dirs or [], out, profile, netx, inputs, nir_file,
                          netx_options(input_message_bits, reset_interval, reset_offset, spike_exp),
                          schedule=schedule)
    except (ValueError, KeyError, OSError) as e:
        raise fail(one_line(e)) from e
    console = make_console()
    console.print(summary_table(doc))
    console.print(f"wrote {out}/report.md, report.json and figures")
