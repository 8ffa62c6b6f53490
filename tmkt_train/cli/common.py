"""Helpers shared by the tmkt-train and tmkt-deploy command lines: one-line errors, consoles, --verbose."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

VERBOSE_ENV = "TMKT_VERBOSE"  # set: third-party import messages are shown (tmkt_train.lavadl)
PIPED_WIDTH = 200  # columns for tables when output is not a terminal (rich's default, 80, squeezes them)


def make_console(stderr: bool = False) -> Console:
    """A rich console for our output: the terminal's width in a terminal; piped or redirected (logs, CI), wide
    enough that tables keep whole numbers and names, and plain lines unwrapped. COLUMNS still wins."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty() or "COLUMNS" in os.environ:
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=True)


err = make_console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear error line and return the Exit to raise (non-zero)."""
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def verbose_callback(
    show: bool = typer.Option(False, "--verbose", "-v",
                              help="Also show third-party import messages (same as TMKT_VERBOSE=1)."),
) -> None:
    """Options of every command (before the command name)."""
    if show:
        os.environ[VERBOSE_ENV] = "1"


def verbose() -> bool:
    """Whether third-party import messages are shown (TMKT_VERBOSE set to anything but '' or '0')."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")
