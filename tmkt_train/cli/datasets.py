"""`tmkt-train datasets`."""

from __future__ import annotations

from . import app
from .common import not_built


@app.command("datasets")
def datasets() -> None:
    """Not built yet (issue #3)."""
    raise not_built("tmkt-train datasets", 3)
