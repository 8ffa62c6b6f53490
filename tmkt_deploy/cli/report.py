"""`tmkt-deploy report`."""

from __future__ import annotations

from tmkt_train.cli.common import not_built

from . import app


@app.command("report")
def report() -> None:
    """Not built yet (issue #6)."""
    raise not_built("tmkt-deploy report", 6)
