"""Lava's child processes die with us, and a stalled Lava call times out with a message.

Lava (lava-nc 0.10, start method `fork`) runs every process model, its runtime service and a shared-memory
manager as child processes, with Python's resource tracker beside them. A `kill -9` of tmkt-deploy used to
leave them all alive (blocked on their channels) for many minutes, with their `/dev/shm/psm_*` segments.
While `children_die_with_parent()` is active, every process forked from this one asks the kernel (Linux
`prctl(PR_SET_PDEATHSIG, SIGKILL)`) to be killed when its parent thread ends; once they are gone the resource
tracker sees its pipe close and unlinks the segments they registered. PDEATHSIG fires when the *thread* that
forked ends, so all Lava calls of a run go through one long-lived `LavaThread`. Our own code: neither Lava nor
the standard library offers either.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tmkt_common.errors import LavaStalled

PR_SET_PDEATHSIG = 1  # linux/prctl.h
_armed = 0  # nesting depth of children_die_with_parent()
_forking_pid = 0


def _before_fork() -> None:
    global _forking_pid
    _forking_pid = os.getpid()


def _in_child() -> None:
    if not _armed:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _forking_pid:  # the parent died before prctl took effect
        os._exit(1)


if sys.platform == "linux":
    os.register_at_fork(before=_before_fork, after_in_child=_in_child)


@contextmanager
def children_die_with_parent() -> Iterator[None]:
    """Processes forked inside the block (and their own children) are killed when their parent ends."""
    global _armed
    _armed += 1
    try:
        yield
    finally:
        _armed -= 1


class LavaThread:
    """One daemon thread that runs every Lava call of a simulation, each with a time-out.

    One thread, not one per call: Lava forks its processes from the first call's thread, and they die when
    that thread ends (see module). A daemon, so a stalled call cannot keep the interpreter alive."""

    def __init__(self) -> None:
        self._calls: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="lava")
        self._thread.start()
        self._stalled = False

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            self._run(*item)

    @staticmethod
    def _run(work: Callable[[], None], done: threading.Event, outcome: list) -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome.append(exc)
        done.set()

    def call(self, work: Callable[[], None], timeout_s: float, what: str) -> None:
        """Run `work` on the Lava thread; raise LavaStalled naming `what` if it does not return in time.
        Once a call has stalled, later ones (stopping the runtime) get a thread of their own."""
        done, outcome = threading.Event(), []
        if self._stalled:
            threading.Thread(target=self._run, args=(work, done, outcome), daemon=True).start()
        else:
            self._calls.put((work, done, outcome))
        if not done.wait(timeout_s):
            self._stalled = True
            raise LavaStalled(f"Lava made no progress for {timeout_s:.0f} s {what}; a process model is "
                              "probably blocked (torch inside a process model, or a port left unconnected); "
                              "--timeout sets the limit")
        if outcome:
            raise outcome[0]

    def close(self) -> None:
        """Let the thread end once its queue is done (a stalled call keeps it, as a daemon)."""
        self._calls.put(None)
