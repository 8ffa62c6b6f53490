"""Re-evaluate a finished run on its test split (what `tmkt-train eval` prints)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tmkt_common.atomic import check_writable, write_json
from tmkt_common.device import pick_device

from ..checkpoint import load_model
from ..data.build import build_split
from .run_folder import EVAL
from .selection import chosen_checkpoint
from .trainer import evaluate


def evaluate_run(run_dir: Path, device: str = "auto", *, data_dir: str | None = None,
                 cache_dir: str | None = None) -> dict:
    """Re-evaluate the run's reported checkpoint (checkpoint.pt, or best.pt for a best-val run) on its
    dataset's test split (pure event input), read out as the run's `eval.readout`; writes eval.json. The data
    and cache folders are the caller's (None: the dataset's default, the user's cache), never paths stored in
    the checkpoint."""
    run_dir = Path(run_dir)
    path = chosen_checkpoint(run_dir)
    if not path.is_file():
        raise ValueError(f"{path}: no checkpoint here (run tmkt-train fit --out {run_dir} first)")
    check_writable(run_dir)  # eval.json goes there: fail before the work
    model, ckpt = load_model(path)
    cfg = ckpt.train
    dev = pick_device(device)
    data = replace(cfg.data, data_dir=data_dir or "", cache_dir=cache_dir or "")
    test_set = build_split(data, cfg.seed, "test")
    result = {"run": str(run_dir), "epoch": ckpt.epoch, "backbone": cfg.model.backbone,
              "method": cfg.method, "dataset": cfg.data.dataset, "test_samples": len(test_set),
              **evaluate(model.to(dev), test_set, dev, cfg.optim.batch_size, readout=cfg.eval.readout)}
    write_json(result, run_dir / EVAL)
    return result
