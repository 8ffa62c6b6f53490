"""`tmkt-deploy import-netx`, and the netx options `report --netx` and `run` share with it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tmkt_common.cli import check_out, fail, make_console, one_line
from tmkt_deploy.ir import Cuba, Network, Resonator

from . import app

INPUT_HELP = ("Inputs as netx takes them, a .npy: (x, y, c, T) for a conv or spatial input layer, (k, T) "
              "for a dense-first chain or 1-D input layer, optionally with a leading sample axis N; bool, "
              "integer or float spikes, or integer graded values with --input-message-bits.")
INPUT_MESSAGE_BITS = typer.Option(0, "--input-message-bits", min=0, max=24,
                                  help="netx's input_message_bits: 0 (netx's default) casts inputs to binary "
                                       "spikes; N > 0 takes integer graded values.")
RESET_INTERVAL = typer.Option(None, "--reset-interval", min=1,
                              help="netx's reset_interval: CUBA layers reset every N steps (default: never).")
RESET_OFFSET = typer.Option(0, "--reset-offset", min=0, help="netx's reset_offset (phase of the reset).")
SPIKE_EXP = typer.Option(6, "--spike-exp", min=0, max=7,
                         help="netx's spike_exp: fraction bits of sigma-delta graded spikes.")


def netx_options(input_message_bits: int, reset_interval: int | None, reset_offset: int, spike_exp: int):
    from tmkt_deploy.interop.netx_import import NetxOptions

    return NetxOptions(input_message_bits=input_message_bits, reset_interval=reset_interval,
                       reset_offset=reset_offset, spike_exp=spike_exp)


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


def _neuron_text(layer) -> str:
    n = layer.neuron
    if isinstance(n, Cuba):
        extra = f", messageBits {n.message_bits}" if n.message_bits else ""
        return f"CUBA iDecay {n.i_decay} vDecay {n.v_decay} vThMant {n.vth_mant}{extra}"
    if isinstance(n, Resonator):
        sin_decay, cos_decay = n.decays()
        return f"RF_IZ vThMant {n.vth_mant} sin {sin_decay} cos {cos_decay} (period {n.period:.3g})"
    return f"{n.kind} vThMant {n.vth_mant} spike_exp {n.spike_exp} state_exp {n.state_exp}"


def layer_table(net: Network) -> Table:
    table = Table(title=f"{net.name}: input {net.input_shape}, latency {net.latency()} steps")
    for col in ("layer", "shape", "synapses", "neuron", "bias"):
        table.add_column(col)
    for layer in net.layers:
        syns = ", ".join(f"{s.kind}{' (imag)' if s.port == 'imag' else ''} {tuple(s.weight.shape)} from "
                         f"{'itself' if s.source == layer.name else s.source}"
                         + (" (delays)" if s.delays is not None else "") for s in layer.synapses)
        table.add_row(layer.name, str(layer.shape), syns, _neuron_text(layer),
                      "—" if layer.bias is None else "per neuron")
    return table


@app.command("import-netx")
def import_netx(
    file: Path = typer.Argument(..., help="A lava-dl netx HDF5 network (export_hdf5 layout)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the IR (network.json + weights.npz)."),
    input_shape: str = typer.Option(None, "--input-shape",
                                    help="C,H,W of the input; needed when the file has no input layer and "
                                         "starts with a conv (netx's input_shape, in PyTorch order)."),
    time_steps: int = typer.Option(10, "--time-steps", min=1,
                                   help="Input frames per sample (netx files do not record it)."),
    input_message_bits: int = INPUT_MESSAGE_BITS,
    reset_interval: int = RESET_INTERVAL,
    reset_offset: int = RESET_OFFSET,
    spike_exp: int = SPIKE_EXP,
) -> None:
    """Read a netx HDF5 trained elsewhere into the integer IR, holding what lava-dl's netx builds from it
    (CUBA and sigma-delta neurons, biases, input layers, dense incl. recurrent and delayed, conv, flatten),
    so [bold]run[/], the emulator and [bold]report[/] work on it. Every unsupported layer is listed in one
    error.

    Example: [cyan]tmkt-deploy import-netx trained.net --out runs/imported/ir --input-shape 2,48,48[/]."""
    from tmkt_deploy.interop.netx_import import read_netx

    if not file.is_file():
        raise fail(f"{file}: no such file")
    check_out(out)
    try:
        net = read_netx(file, input_shape=parse_shape(input_shape), time_steps=time_steps,
                        options=netx_options(input_message_bits, reset_interval, reset_offset, spike_exp))
        net.save(out)
    except (ValueError, KeyError, OSError) as e:
        raise fail(one_line(e, file)) from e
    console = make_console()
    console.print(layer_table(net))
    console.print(f"wrote the IR to {out}/ (network.json, weights.npz)")
