"""`SpikeDelay`: a fixed d-step delay line on a spike stream, for lining up residual paths in Lava.

Loihi delays spikes on the axon; lava.proc has no standalone delay for a Conv path (DelayDense is dense-only
and stores one weight matrix per delay), so this small shift register is ours. It passes payloads
unchanged, so it serves binary and graded spikes, fixed and floating point alike. No torch inside (Lava runs
it in a subprocess).
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class SpikeDelay(AbstractProcess):
    """Sends at step t what arrived at step t - `delay` (zeros for the first `delay` steps)."""

    def __init__(self, *, shape: tuple[int, ...], delay: int) -> None:
        if delay < 1:
            raise ValueError(f"SpikeDelay needs delay >= 1, got {delay}")
        super().__init__(shape=shape, delay=delay)
        self.s_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.buffer = Var(shape=(delay, *shape), init=np.zeros((delay, *shape)))
