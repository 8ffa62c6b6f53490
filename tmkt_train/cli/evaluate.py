"""`tmkt-train eval`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from . import app
from .common import fail


def evaluate_run(run_dir: Path, device: str = "auto") -> dict:
    """Re-evaluate the run's reported checkpoint (checkpoint.pt, or best.pt for a best-val run) on its
    dataset's test split (pure event input), read out as the run's `eval.readout`; writes eval.json."""
    from ..atomic import atomic_write
    from ..device import pick_device
    from ..models import load_model
    from ..train.config import config_from_dict
    from ..train.selection import chosen_checkpoint
    from ..train.trainer import build_datasets, evaluate

    path = chosen_checkpoint(run_dir)
    if not path.exists():
        raise ValueError(f"{path}: no checkpoint here (run tmkt-train fit --out {run_dir} first)")
    model, ckpt = load_model(path)
    cfg = config_from_dict(ckpt["config"]["train"], f"{path} config")
    dev = pick_device(device)
    _, test_set = build_datasets(cfg.data, cfg.seed)
    result = {"run": str(run_dir), "epoch": ckpt["epoch"], "backbone": cfg.model.backbone,
              "method": cfg.method, "dataset": cfg.data.dataset, "test_samples": len(test_set),
              **evaluate(model.to(dev), test_set, dev, cfg.optim.batch_size, readout=cfg.eval.readout)}
    with atomic_write(run_dir / "eval.json", "w") as f:
        json.dump(result, f, indent=1)
    return result


@app.command("eval")
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run folder written by tmkt-train fit."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
) -> None:
    """Re-evaluate a trained run on pure event input; prints a table and writes RUN_DIR/eval.json."""
    try:
        result = evaluate_run(run_dir, device)
    except (ValueError, RuntimeError, OSError) as exc:
        raise fail(str(exc)) from exc
    table = Table(title=f"tmkt-train eval {run_dir}")
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)
