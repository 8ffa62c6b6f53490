"""`tmkt-train eval`."""

from __future__ import annotations

from . import app
from .common import not_built


@app.command("eval")
def evaluate() -> None:
    """Not built yet (issue #4)."""
    raise not_built("tmkt-train eval", 4)
