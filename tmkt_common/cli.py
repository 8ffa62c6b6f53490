"""Helpers shared by the tmkt-train and tmkt-deploy command lines."""

from __future__ import annotations

import typer
from rich.console import Console

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear error line and return the Exit to raise (non-zero)."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)

