"""`tmkt-train eval`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from . import app
from .common import fail, make_console, one_line


def evaluate_run(run_dir: Path, device: str = "auto") -> dict:
    """Re-evaluate RUN_DIR/checkpoint.pt on its dataset's test split (pure event input); writes eval.json."""
    from ..atomic import atomic_write
    from ..device import pick_device
    from ..models import load_model
    from ..train.config import config_from_dict
    from ..train.trainer import CHECKPOINT, build_datasets, evaluate

    path = run_dir / CHECKPOINT
    if not path.exists():
        raise ValueError(f"{path}: no checkpoint here (run tmkt-train fit --out {run_dir} first)")
    model, ckpt = load_model(path)
    cfg = config_from_dict(ckpt["config"]["train"], f"{path} config")
    dev = pick_device(device)
    _, test_set = build_datasets(cfg.data, cfg.seed)
    result = {"run": str(run_dir), "epoch": ckpt["epoch"], "backbone": cfg.model.backbone,
              "method": cfg.method, "dataset": cfg.data.dataset, "test_samples": len(test_set),
              **evaluate(model.to(dev), test_set, dev, cfg.optim.batch_size)}
    with atomic_write(run_dir / "eval.json", "w") as f:
        json.dump(result, f, indent=1)
    return result


@app.command("eval")
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run folder written by tmkt-train fit."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
) -> None:
    """Re-evaluate a trained run on pure event input; prints a table and writes RUN_DIR/eval.json."""
    from ..train.curves import CURVES

    try:
        result = evaluate_run(run_dir, device)
    except (ValueError, RuntimeError, OSError) as exc:
        raise fail(one_line(exc)) from exc
    table = Table(title=f"tmkt-train eval {run_dir}")
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console = make_console()
    console.print(table)
    if (run_dir / CURVES).exists():
        console.print(f"learning curves: {run_dir / CURVES}")
