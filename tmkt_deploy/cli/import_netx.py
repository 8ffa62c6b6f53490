"""`tmkt-deploy import-netx`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tmkt_common.cli import check_out, fail, make_console, one_line
from tmkt_deploy.ir import Network

from . import app


def parse_shape(text: str | None) -> tuple[int, int, int] | None:
    """`"2,48,48"` → (2, 48, 48); raises ValueError naming the option otherwise."""
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"--input-shape must be three positive integers C,H,W; got {text!r}")
    return shape  # type: ignore[return-value]


def layer_table(net: Network) -> Table:
    table = Table(title=f"{net.name}: input {net.input_shape}, latency {net.latency()} steps")
    for col in ("layer", "shape", "synapse", "weights", "iDecay", "vDecay", "vThMant"):
        table.add_column(col)
    for layer in net.layers:
        syn = layer.synapses[0]
        n = layer.neuron
        table.add_row(layer.name, str(layer.shape), f"{syn.kind} ({syn.role}) from {syn.source}",
                      str(syn.weight.shape), str(n.i_decay), str(n.v_decay), str(n.vth_mant))
    return table


@app.command("import-netx")
def import_netx(
    file: Path = typer.Argument(..., help="A lava-dl netx HDF5 network (export_hdf5 layout)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the IR (network.json + weights.npz)."),
    input_shape: str = typer.Option(None, "--input-shape",
                                    help="C,H,W of the input; needed when the file has no input layer and "
                                         "starts with a conv."),
    time_steps: int = typer.Option(10, "--time-steps", min=1,
                                   help="Input frames per sample (netx files do not record it)."),
) -> None:
    """Read a netx HDF5 trained elsewhere into the integer IR, so [bold]run[/], the emulator and
    [bold]report[/] work on it.

    Example: [cyan]tmkt-deploy import-netx trained.net --out runs/imported/ir --input-shape 2,48,48[/]."""
    from tmkt_deploy.interop.netx_import import read_netx

    if not file.is_file():
        raise fail(f"{file}: no such file")
    check_out(out)
    try:
        net = read_netx(file, input_shape=parse_shape(input_shape), time_steps=time_steps)
        net.save(out)
    except (ValueError, KeyError, OSError) as e:
        raise fail(one_line(e, file)) from e
    make_console().print(layer_table(net))
    make_console().print(f"wrote the IR to {out}/ (network.json, weights.npz)")
