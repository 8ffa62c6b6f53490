"""Helpers shared by the tmkt-train and tmkt-deploy command lines."""

from __future__ import annotations

import typer
from rich.console import Console

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear error line and return the Exit to raise (non-zero)."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def not_built(command: str, issue: int) -> typer.Exit:
    """A command whose issue has not landed yet says so and exits non-zero, never pretends."""
    return fail(f"'{command}' is not built yet (tracked in issue #{issue}).", code=3)
