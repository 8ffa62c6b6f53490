"""`tmkt-deploy`: checkpoint.pt → integer IR → Lava / Loihi 2, NIR, ONNX; spike-exact check; energy report."""

from __future__ import annotations

import typer

from tmkt_common.cli import verbose_callback

app = typer.Typer(
    name="tmkt-deploy",
    no_args_is_help=True,
    rich_markup_mode="rich",
    help=(
        "Deploy a tmkt checkpoint to Loihi-class chips and prove it computes what was trained.\n\n"
        "The pipeline: [bold]export[/] quantizes the checkpoint into an integer IR (8-bit weights, "
        "12-bit decays), builds Lava processes from it and runs them ([cyan]--target loihi2-sim[/]: Lava "
        "fixed-point on CPU; [cyan]loihi2[/]: hardware, needs Intel's lava-loihi; [cyan]nir[/], "
        "[cyan]onnx[/]: interop files), then checks output spikes against the quantized PyTorch model "
        "sample by sample. [bold]report[/] turns spike counts into energy per inference for the chips in "
        "hw_profiles/.\n\n"
        "Start with [cyan]tmkt-deploy export runs/scnn/checkpoint.pt --target loihi2-sim --out "
        "runs/scnn/deploy[/]."
    ),
)

app.callback()(verbose_callback)

from . import export, import_netx, import_nir, report, run  # noqa: E402,F401  (registers the commands)
