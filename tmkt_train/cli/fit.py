"""`tmkt-train fit`."""

from __future__ import annotations

from . import app
from .common import not_built


@app.command("fit")
def fit() -> None:
    """Not built yet (issue #4)."""
    raise not_built("tmkt-train fit", 4)
