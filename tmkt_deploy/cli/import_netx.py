"""`tmkt-deploy import-netx`."""

from __future__ import annotations

from tmkt_train.cli.common import not_built

from . import app


@app.command("import-netx")
def import_netx() -> None:
    """Not built yet (issue #10)."""
    raise not_built("tmkt-deploy import-netx", 10)
