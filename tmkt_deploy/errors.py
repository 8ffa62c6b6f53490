"""Deploy errors that callers catch without importing Lava (`tmkt_deploy.simulate` imports it when loaded)."""

from __future__ import annotations


class TargetUnavailable(RuntimeError):
    """The requested target cannot run on this machine; the message says what to install. The files written
    for it are complete (an export keeps them)."""
