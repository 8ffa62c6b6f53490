"""`tmkt-train presets`: list the papers' protocols shipped as presets, or print one's TOML."""

from __future__ import annotations

import typer

from tmkt_common.cli import fail, make_console

from . import app


@app.command("presets")
def presets(name: str | None = typer.Argument(None, help="Preset to print; leave out to list them.")) -> None:
    """List the protocol presets (for tmkt-train fit --preset NAME), or print NAME's TOML to copy and edit."""
    from ..presets import list_presets, preset_text

    if name is None:
        make_console().print("\n".join(list_presets()))
        return
    try:
        text = preset_text(name)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    typer.echo(text, nl=False)
