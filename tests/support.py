"""Helpers several test files share: random graded input, lava-dl's own netx export, scripts as typer apps.

Imported as `support` (pytest puts tests/ on the path, as for `deploy_nets`).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import torch
import typer


def graded_frames(shape: tuple[int, ...], *, density: float = 0.3, low: int = 1, high: int = 256,
                  seed: int = 0, dtype: type = np.int32) -> np.ndarray:
    """Random graded spikes, like encoded event frames: integers in [low, high) at a `density` fraction of
    the places, 0 elsewhere (`shape` is usually (N, C, H, W, T))."""
    rng = np.random.default_rng(seed)
    active = rng.random(shape) < density
    return (active * rng.integers(low, high, shape)).astype(dtype)


def run_and_export_netx(blocks: Iterable[torch.nn.Module], x: torch.Tensor, path: Path) -> torch.Tensor:
    """Run SLAYER blocks on `x` (lava-dl's `export_hdf5` needs a forward pass first), then write them as a
    netx HDF5 network with that `export_hdf5`, one `layer/<i>` group each; returns the blocks' output."""
    blocks = list(blocks)
    with torch.no_grad():
        for block in blocks:
            x = block(x)
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, block in enumerate(blocks):
            block.export_hdf5(layers.create_group(str(i)))
    return x


@contextmanager
def script_app(path: Path) -> Iterator[typer.Typer]:
    """A script's `main` (benchmarks/, examples/: not package modules) as a typer app, loaded in-process.
    The module is registered in `sys.modules` while in use (dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        app = typer.Typer()
        app.command()(module.main)
        yield app
    finally:
        del sys.modules[spec.name]


REAL_EVENTS = Path(__file__).resolve().parent / "data" / "real-events"  # in the repo: see its README.md
NMNIST_SAMPLE = REAL_EVENTS / "nmnist_sample.bin"
AEDAT4_SAMPLE = REAL_EVENTS / "dvs_sample.aedat4"


def write_tiny_checkpoint(path: Path, steps: int = 5) -> Path:
    """A seeded, untrained 1/16-width SCNN checkpoint for ndigits at 16×16, for export tests."""
    from tmkt_train.checkpoint import Checkpoint, write_checkpoint
    from tmkt_train.config import DataConfig, ModelConfig, TrainConfig
    from tmkt_train.models import build_model

    torch.manual_seed(0)
    model = build_model("scnn", num_classes=10, input_shape=(2, 16, 16), width=0.0625)
    train = TrainConfig(data=DataConfig(time_steps=steps, size=16), model=ModelConfig(width=0.0625))
    write_checkpoint(path, Checkpoint(train=train, num_classes=10, input_shape=(2, 16, 16), time_steps=steps,
                                      state_dict=model.state_dict(), class_names=[str(i) for i in range(10)]))
    return path
