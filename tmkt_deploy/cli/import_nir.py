"""`tmkt-deploy import-nir`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from tmkt_common.cli import check_out, fail, make_console, one_line

from . import app
from .import_netx import layer_table, parse_shape

RANDOM_DENSITY = 0.2  # share of input pixels with an event per step in the seeded probe inputs


def probe_inputs(path: Path | None, shape: tuple[int, int, int], time_steps: int, samples: int,
                 seed: int) -> np.ndarray:
    """The inputs the quantisation cost is measured on: the user's .npy, else seeded random binary events."""
    if path is None:
        rng = np.random.default_rng(seed)
        return (rng.random((samples, *shape, time_steps)) < RANDOM_DENSITY).astype(np.uint8)
    from ..interop.netx_inputs import read_array

    frames = read_array(path)
    if frames.ndim != 5 or tuple(frames.shape[1:4]) != tuple(shape):
        raise ValueError(f"{path}: expected graded input spikes (N, {', '.join(map(str, shape))}, T), "
                         f"got {frames.shape}")
    return frames


@app.command("import-nir")
def import_nir(
    file: Path = typer.Argument(..., help="A NIR graph file (nir.write output of snnTorch, Norse, ...)."),
    out: Path = typer.Option(..., "--out", "-o", help="New folder for the IR (network.json + weights.npz)."),
    time_steps: int = typer.Option(10, "--time-steps", min=1, help="Input frames per sample."),
    input_scale: float = typer.Option(1.0, "--input-scale", min=1e-9,
                                      help="Graded input = clamp(round(x * scale), 0, 255) of graph input x."
                                      ),
    dt: float = typer.Option(None, "--dt", help="Seconds per step (default: the graph's metadata dt, "
                                                "else 1e-4 as snnTorch assumes)."),
    input_shape: str = typer.Option(None, "--input-shape",
                                    help="C,H,W of the input when the graph's Input is not (N,) or (C,H,W)."),
    inputs: Path = typer.Option(None, "--input", help="Graded input spikes (N, C, H, W, T) .npy to measure "
                                                      "the quantisation on (default: seeded random events)."),
    samples: int = typer.Option(16, "--samples", min=1, help="Random probe samples without --input."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random probe inputs."),
) -> None:
    """Read a NIR graph trained elsewhere into the integer IR (8-bit Loihi weights), report what the
    quantisation costs against the unquantised graph, and write the IR for the emulator, Lava and
    [bold]report[/].

    Example: [cyan]tmkt-deploy import-nir snntorch_net.nir --out runs/imported/ir --time-steps 20[/]."""
    from tmkt_deploy.interop.nir_import import quantisation_cost, read_nir

    for path in (file, inputs):
        if path is not None and not path.is_file():
            raise fail(f"{path}: no such file")
    if (out / "network.json").exists():
        raise fail(f"{out}: already holds an IR; choose a new --out")
    check_out(out)
    try:
        imported = read_nir(file, time_steps=time_steps, input_scale=input_scale, dt=dt,
                            input_shape=parse_shape(input_shape))
        frames = probe_inputs(inputs, imported.net.input_shape, time_steps, samples, seed)
        cost = quantisation_cost(imported, frames)
        cost["inputs"] = str(inputs) if inputs else \
            f"{samples} random samples, density {RANDOM_DENSITY}, seed {seed}"
        imported.net.meta["quantisation"] = cost
        imported.net.save(out)
    except (ValueError, KeyError, OSError) as e:
        raise fail(one_line(e, file)) from e
    console = make_console()
    console.print(layer_table(imported.net))
    console.print(f"quantisation vs the unquantised graph on {cost['inputs']}: output spikes equal "
                  f"{cost['output_spike_agreement']:.2%}, same class {cost['prediction_agreement']:.2%}")
    console.print(f"wrote the IR to {out}/ (network.json, weights.npz)")
