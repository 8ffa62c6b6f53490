"""`tmkt-train`: paired RGB + event data → SLAYER CUBA backbone → TMKT training → checkpoint.pt."""

from __future__ import annotations

import typer

from tmkt_common.cli import verbose_callback

app = typer.Typer(
    name="tmkt-train",
    no_args_is_help=True,
    rich_markup_mode="rich",
    help=(
        "Train spiking networks for Loihi with Time-step Mixup Knowledge Transfer (TMKT).\n\n"
        "The pipeline: [bold]datasets[/] (paired RGB images + event recordings, framed to T steps) → "
        "[bold]fit[/] (a SLAYER CUBA backbone with 8-bit weights, trained with TMKT or a baseline) → a "
        "[bold]checkpoint.pt[/] that [bold]tmkt-deploy[/] turns into Lava processes for Loihi 2.\n\n"
        "Start with [cyan]tmkt-train datasets[/], then [cyan]tmkt-train fit --dataset ndigits --backbone "
        "scnn --method tmkt --out runs/scnn[/]."
    ),
)

app.callback()(verbose_callback)

from . import convert, datasets, evaluate, fit, presets  # noqa: E402,F401  (registers the commands)
