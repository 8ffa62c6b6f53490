"""Run an IR on a Lava target: samples back to back, per-layer spike records, a time-out that names the step.

Targets: `loihi2-sim` (Lava's bit-accurate fixed-point CPU models, `Loihi2SimCfg(select_tag='fixed_pt')`),
`lava-cpu` (Lava's floating-point models, to see what quantization alone changes) and `loihi2` (Intel's
lava-loihi extension; not public, so only detected here). Lava's own runtime does the work; ours is the
chunking (one sample per `run` call, so a hang is pinned to a sample's steps; its spikes are drained from the
graph's Extractors right after it) and the watchdog around it.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterable

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel

from tmkt_common.errors import LavaStalled, TargetUnavailable

from ..ir import Network
from .builder import build_graph

SIM_TAGS = {"loihi2-sim": "fixed_pt", "lava-cpu": "floating_pt"}
LOIHI_MODULE = "lava.magma.compiler.subcompilers.nc"
LOIHI_INSTALL = ("Intel's lava-loihi extension (module lava.magma.compiler.subcompilers.nc) is not "
                 "installed. Intel gives it to Intel Neuromorphic Research Community (INRC) members only: "
                 "install the lava-loihi package from your INRC account (it adds Loihi2HwCfg and the Loihi 2 "
                 "compilers to lava-nc) on a system with Loihi 2 access.")


def loihi_missing() -> str | None:
    """None when lava-loihi is importable, else the exact reason and what to install."""
    try:
        found = importlib.util.find_spec(LOIHI_MODULE) is not None
    except ModuleNotFoundError:
        found = False
    return None if found else LOIHI_INSTALL


def _with_timeout(work: Callable[[], None], timeout_s: float, what: str) -> None:
    """Run `work` in a thread; raise LavaStalled naming `what` if it does not return in time."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise LavaStalled(f"Lava made no progress for {timeout_s:.0f} s {what}; a process model is probably "
                          "blocked (torch inside a process model, or a port left unconnected)")
    if errors:
        raise errors[0]


def simulate(net: Network, frames: np.ndarray, *, target: str = "loihi2-sim",
             record: Iterable[str] | None = None, timeout_s: float = 300.0,
             on_sample: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Run graded `frames` (N, C, H, W, T) through `net` on `target`.

    Returns spikes per recorded layer (default all) as (N, *IR shape, P) int8 over each sample's
    P = T + latency steps, aligned with SLAYER's delayed outputs (index t = SLAYER's t) and masked inside each
    sample's latency window (see lava.builder).
    `on_sample(k)` is called after each sample (progress bars).
    """
    if target == "loihi2":
        raise TargetUnavailable(loihi_missing() or "running on Loihi 2 hardware is not built yet: the IR and "
                                "netx files of this export are what an INRC system loads")
    if target not in SIM_TAGS:
        raise ValueError(f"unknown simulation target {target!r}; choose one of {sorted(SIM_TAGS)} or loihi2")
    graph = build_graph(net, frames, floating=target == "lava-cpu", record=record)
    # Lava's Extractor model carries no tag, so it is named explicitly
    cfg = Loihi2SimCfg(select_tag=SIM_TAGS[target],
                       exception_proc_model_map={Extractor: PyLoihiExtractorModel})
    steps, driver = net.steps_per_sample(), graph.source
    try:
        for k in range(graph.samples):
            first, last = k * steps + 1, (k + 1) * steps
            where = f"in Lava steps {first}..{last} (sample {k})" + (" or while compiling" if k == 0 else "")
            _with_timeout(lambda: driver.run(condition=RunSteps(num_steps=steps), run_cfg=cfg), timeout_s,
                          where)
            _with_timeout(graph.collect, timeout_s, f"while reading the spikes of sample {k}")
            if on_sample is not None:
                on_sample(k)
    finally:
        _stop(driver)
    return graph.read()


def _stop(driver) -> None:
    """Stop Lava's runtime; a stop that hangs too must not hide the error that brought us here."""
    if driver.runtime is None:
        return
    try:
        _with_timeout(driver.stop, 60.0, "while stopping the runtime")
    except LavaStalled:
        pass
