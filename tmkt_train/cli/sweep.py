"""`tmkt-train sweep`."""

from __future__ import annotations

from . import app
from .common import not_built


@app.command("sweep")
def sweep() -> None:
    """Not built yet (issue #9)."""
    raise not_built("tmkt-train sweep", 9)
