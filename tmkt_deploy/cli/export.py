"""`tmkt-deploy export`."""

from __future__ import annotations

from tmkt_train.cli.common import not_built

from . import app


@app.command("export")
def export() -> None:
    """Not built yet (issue #5)."""
    raise not_built("tmkt-deploy export", 5)
