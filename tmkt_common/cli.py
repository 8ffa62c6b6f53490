"""Helpers shared by the tmkt-train and tmkt-deploy command lines."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear error line and return the Exit to raise (non-zero)."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)  # one line, verbatim
    return typer.Exit(code)

