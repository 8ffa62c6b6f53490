"""Small lava-dl networks as netx files, and netx's own Lava run of them (the ground truth of the netx tests).

Imported as `netx_models` (pytest puts tests/ on the path). Every file is written by lava-dl's `export_hdf5`
after one forward pass; what SLAYER's blocks never write (biases without a norm, 1-D weights, trained
delays) is then set in the file by hand, as a file trained elsewhere would have it.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import support
import torch
from lava.lib.dl import netx, slayer
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc import io

CUBA = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.1, "requires_grad": False}
SDNN = {"threshold": 0.1, "activation": torch.nn.functional.relu}
S = 10  # steps per sample: Lava runs stay short


def cuba_conv_file(path: Path) -> Path:
    """Conv (per-channel bias) → Flatten → Dense with axonal delays → Recurrent dense (dense_rec)."""
    torch.manual_seed(1)
    blocks = [slayer.block.cuba.Conv(CUBA, 2, 4, 3, padding=1, stride=2, weight_scale=3),
              slayer.block.cuba.Flatten(),
              slayer.block.cuba.Dense(CUBA, 4 * 4 * 4, 8, weight_scale=3, delay=True),
              slayer.block.cuba.Recurrent(CUBA, 8, 5, weight_scale=3)]
    support.run_and_export_netx(blocks, (torch.rand(1, 2, 8, 8, S) > 0.5).float(), path)
    rng = np.random.default_rng(1)
    with h5py.File(path, "a") as f:
        f["layer/0"].create_dataset("bias", data=np.array([6.0, -4.0, 12.0, 0.0]))
        f["layer/2/delay"][...] = rng.integers(0, 4, f["layer/2/delay"].shape)
    return path


def cuba_rec_delay_file(path: Path) -> Path:
    """Conv with a per-neuron bias in netx's (x, y, c) shape → Flatten → Dense → Recurrent dense with axonal
    delays (netx's RecurrentDense gives both synapses the delays and no weight exponent)."""
    torch.manual_seed(5)
    blocks = [slayer.block.cuba.Conv(CUBA, 2, 3, 3, padding=1, stride=2, weight_scale=3),
              slayer.block.cuba.Flatten(),
              slayer.block.cuba.Dense(CUBA, 3 * 4 * 4, 8, weight_scale=3),
              slayer.block.cuba.Recurrent(CUBA, 8, 8, weight_scale=3)]
    support.run_and_export_netx(blocks, (torch.rand(1, 2, 8, 8, S) > 0.5).float(), path)
    rng = np.random.default_rng(2)
    with h5py.File(path, "a") as f:
        f["layer/3"].create_dataset("delay", data=rng.integers(0, 3, 8).astype(float))
        f["layer/0"].create_dataset("bias", data=rng.integers(-8, 12, (4, 4, 3)).astype(float))
    return path


def cuba_dense_file(path: Path) -> Path:
    """Dense with per-neuron bias and 1-D stored weights → Dense → a synapse-only Dense (no neuron)."""
    torch.manual_seed(2)
    blocks = [slayer.block.cuba.Dense(CUBA, 6, 8, weight_scale=2),
              slayer.block.cuba.Dense(CUBA, 8, 5, weight_scale=3),
              slayer.block.cuba.Dense(CUBA, 5, 3, weight_scale=3)]
    support.run_and_export_netx(blocks, torch.rand(1, 6, S), path)
    with h5py.File(path, "a") as f:
        f["layer/0"].create_dataset("bias", data=np.arange(8) * 4.0 - 10.0)
        flat = f["layer/1/weight"][()].ravel()
        del f["layer/1/weight"]
        f["layer/1"].create_dataset("weight", data=flat)
        del f["layer/2/neuron"]
    return path


def sdnn_file(path: Path) -> Path:
    """Sigma-delta Conv → Flatten → Dense → Output (Sigma)."""
    torch.manual_seed(3)
    blocks = [slayer.block.sigma_delta.Conv(SDNN, 2, 3, 3, padding=1, weight_scale=2),
              slayer.block.sigma_delta.Flatten(),
              slayer.block.sigma_delta.Dense(SDNN, 3 * 6 * 6, 6, weight_scale=2),
              slayer.block.sigma_delta.Output(SDNN, 6, 3, weight_scale=2)]
    support.run_and_export_netx(blocks, torch.rand(1, 2, 6, 6, S), path)
    return path


def resonator_file(path: Path, kind: str) -> Path:
    """Resonate-and-fire neurons, `kind` "rf" (RF_PHASE: netx builds Lava RF) or "rf_iz" (RF_IZHIKEVICH:
    RF_IZ), behind netx's ComplexDense: Dense → Dense, the second block's real and imaginary weights stored
    1-D (netx reshapes them together)."""
    torch.manual_seed(3)
    rf = {"threshold": 0.5, "period": 7, "decay": 0.05}
    block = getattr(slayer.block, kind)
    blocks = [block.Dense(rf, 12, 8, weight_scale=4), block.Dense(rf, 8, 5, weight_scale=4)]
    support.run_and_export_netx(blocks, (torch.rand(1, 12, S) > 0.5).float(), path)
    with h5py.File(path, "a") as f:
        for part in ("real", "imag"):
            flat = f[f"layer/1/weight/{part}"][()].ravel()
            del f[f"layer/1/weight/{part}"]
            f["layer/1/weight"].create_dataset(part, data=flat)
    return path


def input_layer_file(path: Path, kind: str) -> Path:
    """An input layer with its own neurons (scale 2, bias for CUBA) → Dense, CUBA or sigma-delta."""
    torch.manual_seed(4)
    if kind == "cuba":
        blocks = [slayer.block.cuba.Input(CUBA, weight=2, bias=0.25), slayer.block.cuba.Dense(CUBA, 6, 4)]
    else:
        blocks = [slayer.block.sigma_delta.Input(SDNN), slayer.block.sigma_delta.Dense(SDNN, 6, 4)]
    support.run_and_export_netx(blocks, torch.rand(1, 6, S), path)
    with h5py.File(path, "a") as f:  # SLAYER writes the input block's shape only when it saw one
        if "shape" not in f["layer/0"]:
            f["layer/0"].create_dataset("shape", data=np.array([6]))
    return path


def netx_lava(path: Path, frames: np.ndarray, layers: int, **options) -> list[np.ndarray]:
    """netx's own Lava run of `path` on one sample `frames` (C, H, W, S) for S steps: every block's output
    (*IR shape, S), read from `net.layers[i].out`."""
    steps = frames.shape[-1]
    net = netx.hdf5.Network(net_config=str(path), **options)
    flat = len(net.inp.shape) == 1
    data = frames.reshape(-1, steps) if flat else frames.transpose(2, 1, 0, 3)
    source = io.source.RingBuffer(data=data)
    source.s_out.connect(net.inp)
    sinks = []
    for block in net.layers[:layers]:
        sinks.append(io.sink.RingBuffer(shape=block.out.shape, buffer=steps))
        block.out.connect(sinks[-1].a_in)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        got = [sink.data.get() for sink in sinks]
    finally:
        net.stop()
    return [d.transpose(*reversed(range(d.ndim - 1)), d.ndim - 1) for d in got]
