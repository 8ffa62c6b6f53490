"""Energy report for a network trained elsewhere: a lava-dl netx HDF5 file + input spikes → the report.

    python examples/netx_energy.py --netx my_net.net --input my_spikes.npy --out runs/netx-report
    python examples/netx_energy.py --out runs/netx-report     # no file: builds an example of each first

The netx file is what lava-dl's `block.export_hdf5` writes (what netx builds: input, conv, flatten, dense,
dense_rec layers, CUBA or sigma-delta neurons); the inputs are a .npy in netx's layout, `(N, x, y, c, T)`
(or `(N, k, T)` for a dense-first net), here graded event counts (`--input-message-bits 8`). tmkt reads the
file into its integer IR, runs it on the inputs with the bit-exact Loihi 2 emulator, counts spikes (messages)
and synaptic ops, and estimates energy on every hardware profile (no accuracies: the file has no labels).
Without --netx this script writes a small SLAYER CUBA net with lava-dl's own `export_hdf5` (seeded, untrained:
energy follows the spikes, not the training) and 32 `ndigits` test recordings as its input, then reports
them.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
import typer

from tmkt_deploy.cli import app as deploy_app

SIZE, STEPS, SAMPLES = 32, 10, 32
NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03, "requires_grad": False}


def write_example_netx(path: Path) -> None:
    """A Conv → strided Conv → Conv → strided Conv → Flatten → Dense SLAYER CUBA net saved by lava-dl's
    export_hdf5 (netx builds no pool layer)."""
    from lava.lib.dl import slayer

    torch.manual_seed(0)
    cuba = slayer.block.cuba
    blocks = [cuba.Conv(NEURON, 2, 8, 3, padding=1, weight_scale=2),
              cuba.Conv(NEURON, 8, 8, 2, stride=2, weight_scale=2),
              cuba.Conv(NEURON, 8, 16, 3, padding=1, weight_scale=2),
              cuba.Conv(NEURON, 16, 16, 2, stride=2, weight_scale=2),
              cuba.Flatten(), cuba.Dense(NEURON, 16 * (SIZE // 4) ** 2, 10, weight_scale=2)]
    x = torch.zeros(1, 2, SIZE, SIZE, STEPS)
    with torch.no_grad():  # export_hdf5 needs a forward pass first
        for block in blocks:
            x = block(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, block in enumerate(blocks):
            block.export_hdf5(layers.create_group(str(i)))


def write_example_inputs(path: Path) -> None:
    """The first ndigits test recordings as graded spikes (per-pixel, per-polarity event counts per step),
    in netx's layout (N, x, y, c, T)."""
    from tmkt_train.data import build_dataset

    test = build_dataset("ndigits", "test", size=SIZE, time_steps=STEPS)
    frames = torch.stack([test[i][1] for i in range(min(SAMPLES, len(test)))])
    np.save(path, frames.clamp(0, 255).round().to(torch.uint8).numpy().transpose(0, 3, 2, 1, 4))


def main(netx: Path = typer.Option(None, "--netx", help="netx HDF5 file (default: build an example)."),
         inputs: Path = typer.Option(None, "--input", help="Graded (N, x, y, c, T) .npy, netx's layout."),
         out: Path = typer.Option(Path("runs/netx-report"), "--out", help="Report folder."),
         profile: list[str] = typer.Option(None, "--profile", "-p", help="Profiles (default: all).")) -> None:
    """Report energy per inference of a netx network on its input spikes (builds examples when none given)."""
    if netx is None:
        netx = out / "example.net"
        write_example_netx(netx)
        print(f"wrote {netx} with lava-dl's export_hdf5")
    if inputs is None:
        inputs = out / "example_inputs.npy"
        write_example_inputs(inputs)
        print(f"wrote {inputs} (ndigits test recordings, {SIZE}x{SIZE}, T={STEPS})")
    args = ["report", "--netx", str(netx), "--input", str(inputs), "--out", str(out),
            "--input-message-bits", "8"]
    args += [a for p in profile or [] for a in ("--profile", p)]
    print("tmkt-deploy " + " ".join(args))
    deploy_app(args, prog_name="tmkt-deploy")


if __name__ == "__main__":
    typer.run(main)
