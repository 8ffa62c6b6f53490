"""`tmkt-train convert-checkpoint`: the one, explicit way to unpickle a checkpoint the safe reader refuses."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

from tmkt_common.cli import check_out, err, fail

from . import app


@app.command("convert-checkpoint")
def convert(
    old: Path = typer.Argument(..., help="A checkpoint tmkt refuses to load (pickled objects)."),
    new: Path = typer.Argument(..., help="Where to write it as a current checkpoint (tensors, plain data)."),
    trust_pickle: bool = typer.Option(
        False, "--trust-pickle",
        help="Required: unpickling OLD runs any code it holds. Only for files from a source you trust."),
) -> None:
    """Rewrite an old or foreign-pickled checkpoint as one that loads without running code."""
    from ..checkpoint import convert_checkpoint

    if not trust_pickle:
        raise fail(f"{old}: converting unpickles the file, which runs any code it holds; add --trust-pickle "
                   "if you trust where it came from")
    if new.exists() and new.resolve() == old.resolve():
        raise fail(f"{new}: write the converted checkpoint to a new file, not over {old}")
    check_out(new.parent, "NEW")
    err.print(f"[yellow]warning:[/] unpickling {old} with torch.load(weights_only=False)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # said once, above
            ckpt = convert_checkpoint(old, new)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    err.print(f"wrote {new} (epoch {ckpt.epoch + 1}, {ckpt.train.model.backbone}); it loads safely")
