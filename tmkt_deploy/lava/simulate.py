"""Run an IR on a Lava target: samples back to back, per-layer spike records, a time-out that names the step.

Targets: `loihi2-sim` (Lava's bit-accurate fixed-point CPU models, `Loihi2SimCfg(select_tag='fixed_pt')`),
`lava-cpu` (Lava's floating-point models, to see what quantization alone changes) and `loihi2` (Intel's
lava-loihi extension; not public, so only detected here). Lava's own runtime does the work; ours is the
chunking (one sample per `run` call, so a hang is pinned to a sample's steps; its spikes are drained from the
graph's Extractors right after it) and the watchdog around it (`processes`: a time-out per call;
Lava's child processes die with ours).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel

from tmkt_common.errors import LavaStalled, TargetUnavailable

from ..ir import Network
from .builder import build_graph
from .processes import LavaThread, children_die_with_parent

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
    lava = LavaThread()
    with children_die_with_parent():
        try:
            for k in range(graph.samples):
                first, last = k * steps + 1, (k + 1) * steps
                where = f"in Lava steps {first}..{last} (sample {k})"
                where += " or while compiling" if k == 0 else ""
                lava.call(lambda: driver.run(condition=RunSteps(num_steps=steps), run_cfg=cfg), timeout_s,
                          where)
                lava.call(graph.collect, timeout_s, f"while reading the spikes of sample {k}")
                if on_sample is not None:
                    on_sample(k)
        finally:
            _stop(driver, lava)
    return graph.read()


def _stop(driver, lava: LavaThread) -> None:
    """Stop Lava's runtime; a stop that hangs too must not hide the error that brought us here."""
    try:
        if driver.runtime is not None:
            lava.call(driver.stop, 60.0, "while stopping the runtime")
    except LavaStalled:
        pass
    finally:
        lava.close()
