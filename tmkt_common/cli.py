"""Helpers shared by the tmkt-train and tmkt-deploy command lines: one-line errors, consoles, --verbose."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, ProgressColumn

from .atomic import check_writable
from .errors import FolderError

VERBOSE_ENV = "TMKT_VERBOSE"  # set: third-party import messages are shown (tmkt_common.lavadl)
PIPED_WIDTH = 200  # columns for tables when output is not a terminal (rich's default, 80, squeezes them)


def make_console(stderr: bool = False) -> Console:
    """A rich console for our output: the terminal's width in a terminal; piped or redirected (logs, CI), wide
    enough that tables keep whole numbers and names, and plain lines unwrapped. COLUMNS still wins."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty() or "COLUMNS" in os.environ:
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=True)


err = make_console(stderr=True)


def progress(*columns: str | ProgressColumn, enabled: bool = True) -> Progress:
    """A transient progress bar on stderr (stdout stays for tables and JSON), off when stderr is not a
    terminal: a log would get only blank lines from it."""
    bar_console = make_console(stderr=True)
    return Progress(*columns, console=bar_console, transient=True,
                    disable=not (enabled and bar_console.is_terminal))


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear error line and return the Exit to raise (non-zero)."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)  # one line, verbatim
    return typer.Exit(code)


def one_line(exc: BaseException, source: str | os.PathLike | None = None) -> str:
    """The error line for `exc`: OS errors name their file (not `[Errno 17]`), a missing key names `source`,
    the file it was read from (not a bare `state_dict`)."""
    if isinstance(exc, OSError) and exc.filename is not None:
        to = f" → {exc.filename2}" if exc.filename2 is not None else ""
        return f"{exc.filename}{to}: {exc.strerror or exc}"
    if isinstance(exc, KeyError):
        return f"{source or 'input'}: missing entry {exc.args[0] if exc.args else ''!r}"
    text = str(exc) if str(exc) else type(exc).__name__
    return f"{source}: {text}" if source is not None and isinstance(exc, OSError) else text


def check_out(out: Path, option: str = "--out") -> None:
    """Fail with one line, before any work, when folder `out` cannot be made or written (check_writable)."""
    try:
        check_writable(out)
    except FolderError as exc:
        raise fail(f"{option} {exc}") from exc


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
