"""`tmkt-deploy run`."""

from __future__ import annotations

from tmkt_train.cli.common import not_built

from . import app


@app.command("run")
def run() -> None:
    """Not built yet (issue #5)."""
    raise not_built("tmkt-deploy run", 5)
