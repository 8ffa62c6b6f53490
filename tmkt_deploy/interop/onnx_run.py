"""Run an exported step graph (`onnx_export.write_onnx`) over whole samples with onnxruntime.

Reads only the `.onnx` file (its `tmkt.state` / `tmkt.latency` metadata say which state to feed), so it checks
the file a user receives, not our in-memory IR. The output has the emulator's layout, time last.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort


class OnnxStepRunner:
    """A step graph opened once (metadata read, onnxruntime session built) and run on many batches: building
    the session is the expensive part of a short batch."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        props = {p.key: p.value for p in onnx.load(os.fspath(path), load_external_data=False).metadata_props}
        if "tmkt.state" not in props:
            raise ValueError(f"{path}: no tmkt.state metadata; not a step graph written by tmkt's write_onnx")
        self.spec = json.loads(props["tmkt.state"])
        self.latency = int(props["tmkt.latency"])
        self.session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])

    def __call__(self, frames: np.ndarray, *, flush: bool = True,
                 on_step: Callable[[dict[str, np.ndarray]], None] | None = None) -> np.ndarray:
        """Output spikes `(N, *output_shape, steps)` for graded input `frames` `(N, C, H, W, T)`.

        `flush` appends `tmkt.latency` zero frames, as the emulator and the Lava run do, so every input frame
        reaches the output. `on_step` is called after each step with the new state (`{state name: array}`).
        """
        frames = np.asarray(frames)
        if frames.ndim != 5 or frames.min(initial=0) < 0 or frames.max(initial=0) > 255:
            raise ValueError(f"{self.path}: frames must be (N, C, H, W, T) graded spikes in 0..255; "
                             f"got shape {frames.shape}")
        n, steps = len(frames), frames.shape[-1] + (self.latency if flush else 0)
        state = {s["name"]: np.zeros((n, *s["shape"]), np.dtype(s["dtype"])) for s in self.spec}
        names = ["spikes"] + [f"{name}.next" for name in state]
        zero = np.zeros(frames.shape[:-1], np.uint8)
        spikes = []
        for t in range(steps):
            x = frames[..., t].astype(np.uint8) if t < frames.shape[-1] else zero
            out = self.session.run(names, {"x": x, **state})
            spikes.append(out[0])
            state = dict(zip(state, out[1:], strict=True))
            if on_step is not None:
                on_step(state)
        return np.stack(spikes, axis=-1)


def run_onnx(path: str | os.PathLike, frames: np.ndarray, *, flush: bool = True,
             on_step: Callable[[dict[str, np.ndarray]], None] | None = None) -> np.ndarray:
    """`OnnxStepRunner(path)(frames, ...)`: one batch through the file at `path`."""
    return OnnxStepRunner(path)(frames, flush=flush, on_step=on_step)
