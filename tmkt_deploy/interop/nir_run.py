"""Run a NIR graph in a NIR client (snnTorch, Norse) exactly as a user would, to compare it with the emulator.

Each client is called through its own documented importer with nothing patched: snnTorch's
`import_from_nir(graph)` (dt fixed at 1e-4 inside it), Norse's `from_nir(graph, dt=graph.metadata["dt"])`
(Norse reads no dt from the graph and defaults to 1e-3). NIR shapes have no batch dimension (our
`Flatten(start_dim=0)`), so samples run one at a time. The clients are imported inside the functions: they are
optional (the `nir-clients` extra).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import nir
import numpy as np
import torch

from .nir_export import DEFAULT_DT

Step = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]


def _snntorch(graph: nir.NIRGraph) -> tuple[Step, Callable[[], None]]:
    from snntorch.import_nir import import_from_nir
    from snntorch.utils import reset

    with contextlib.redirect_stdout(io.StringIO()):  # it prints whole parameter arrays when it folds w_in
        module = import_from_nir(graph)
    return module, lambda: reset(module)


def _norse(graph: nir.NIRGraph) -> tuple[Step, Callable[[], None]]:
    from norse.torch import from_nir

    module = from_nir(graph, dt=float(graph.metadata.get("dt", DEFAULT_DT)))
    return module, lambda: None  # Norse keeps its state in the returned tuple only


CLIENTS: dict[str, Callable[[nir.NIRGraph], tuple[Step, Callable[[], None]]]] = {
    "snntorch": _snntorch, "norse": _norse,
}


def client_version(client: str) -> str:
    """`name version` of an installed client, for check.json."""
    from importlib.metadata import version

    return f"{client} {version(client)}"


def run_client(graph: nir.NIRGraph, frames: np.ndarray, steps: int, client: str = "snntorch") -> np.ndarray:
    """Output spikes (N, *output shape, steps) of `graph` simulated by `client` on graded frames
    (N, C, H, W, T) (empty frames after T). NIR has no per-layer latency: its step t is the chip's
    t + `Network.latency()`."""
    if client not in CLIENTS:
        raise ValueError(f"unknown NIR client {client!r}; choose one of {sorted(CLIENTS)}")
    step, reset = CLIENTS[client](graph)
    zeros = torch.zeros(frames.shape[1:-1])
    out = []
    with torch.no_grad():
        for sample in torch.as_tensor(frames, dtype=torch.float32):
            reset()
            state, spikes = None, []
            for t in range(steps):
                y, state = step(sample[..., t] if t < sample.shape[-1] else zeros, state)
                spikes.append(y.numpy())
            out.append(np.stack(spikes, axis=-1))
    return np.stack(out).astype(np.uint8)
