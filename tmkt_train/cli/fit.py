"""`tmkt-train fit`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tmkt_common.cli import fail, one_line

from . import app

if TYPE_CHECKING:  # torch and lava-dl load when a command runs, not for every `tmkt-train`/`--help`
    from ..checkpoint import Checkpoint
    from ..config import TrainConfig


def resolve_config(config: Path | None, preset: str | None = None, base: TrainConfig | None = None,
                   **overrides) -> TrainConfig:
    """Defaults (or `base`, the recorded run's config on --resume), then the preset (tmkt_train.presets),
    then the TOML file, then the command-line options that were given. A preset or file replaces `base`."""
    from ..config import check_config, config_from_dict, read_toml
    from ..methods import METHODS
    from ..models import list_models
    from ..presets import load_preset, merged

    values = load_preset(preset) if preset is not None else {}
    source = f"preset {preset}" if preset is not None else "config"
    if config is not None:
        values = merged(values, read_toml(config))
        source = f"{config} over {source}" if preset is not None else str(config)
    cfg = base if base is not None and preset is None and config is None else config_from_dict(values, source)
    where = {"dataset": cfg.data, "data_dir": cfg.data, "cache_dir": cfg.data, "dvs_fraction": cfg.data,
             "val_fraction": cfg.data, "augment": cfg.data, "backbone": cfg.model, "width": cfg.model,
             "epochs": cfg.optim, "steps": cfg.optim, "select": cfg.eval, "method": cfg, "seed": cfg,
             "energy": cfg.loss, "energy_budget_uj": cfg.loss, "energy_profile": cfg.loss,
             "init_from": cfg.model}
    for key, value in overrides.items():
        if value is not None:
            setattr(where[key], key, str(value) if isinstance(value, Path) else value)
    if cfg.model.backbone not in list_models():
        raise ValueError(f"--backbone {cfg.model.backbone!r}: choose one of {list_models()}")
    if cfg.method not in METHODS:
        raise ValueError(f"--method {cfg.method!r}: choose one of {sorted(METHODS)}")
    return check_config(cfg, "options")  # the options bypass the config's own checks


def resumed_config(out: Path, ckpt: Checkpoint | None) -> TrainConfig | None:
    """What `fit --resume` without --config starts from: the run's recorded config (`ckpt`'s, OUT's checkpoint
    as read, else config.toml), but the data and cache folders from the command line (or their defaults),
    never from the run's files. A copy: `ckpt` stays what the run recorded, for check_run_folder."""
    from copy import deepcopy
    from dataclasses import replace

    from ..train.run_folder import recorded_config

    recorded = recorded_config(out, ckpt) if out.is_dir() else None
    if recorded is None:
        return None
    cfg = deepcopy(recorded[0])
    cfg.data = replace(cfg.data, data_dir="", cache_dir="")
    return cfg


@app.command("fit")
def fit(
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoint.pt, metrics.jsonl, config.toml."),
    dataset: str = typer.Option(None, help="Dataset (tmkt-train datasets lists them). Default: ndigits."),
    backbone: str = typer.Option(None, help="scnn, vggsnn or resnet18. Default: scnn."),
    method: str = typer.Option(None, help="tmkt, sliding-kt, dvs-only, rgb-pretrain or ckd. Default: tmkt."),
    epochs: int = typer.Option(None, help="Training epochs. Default: 10."),
    steps: int = typer.Option(None, help="Train exactly this many optimiser steps instead (epochs follow: "
                                         "one pass over the paired training set each). Default: 0 (off)."),
    select: str = typer.Option(None, help="Weights to report: last, or best-val (the best validation "
                                          "epoch's, kept in OUT/best.pt; needs --val-fraction). "
                                          "Default: last."),
    preset: str = typer.Option(None, "--preset", help="A paper's protocol: ncaltech101, cepdvs or nomniglot "
                                                      "(tmkt-train presets shows them); --config and options "
                                                      "override it."),
    config: Path = typer.Option(None, "--config", exists=True, dir_okay=False,
                                help="TOML with any knob (see a run's config.toml); options override it."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    seed: int = typer.Option(None, help="Seed for init, shuffling and mixing. Default: 0."),
    width: float = typer.Option(None, help="Channel width multiplier (0.125 for CPU demos). Default: 1."),
    data_dir: Path = typer.Option(None, help="Folder of the dataset's files (not needed for ndigits)."),
    cache_dir: Path = typer.Option(None, help="Frame cache (default: $TMKT_CACHE, else ~/.cache/tmkt)."),
    dvs_fraction: float = typer.Option(None, help="Share of event training samples kept (few-event regime)."),
    val_fraction: float = typer.Option(
        None, help="Share of each class's event training samples held out as a validation split, scored "
                   "every epoch (val_acc): choose settings on it, keep the test split for the final number. "
                   "Default: 0 (off)."),
    augment: bool = typer.Option(
        None, "--augment/--no-augment",
        help="Random flip and shift (4 px at 48×48) per training sample, never at evaluation. Default: off."),
    energy_weight: float = typer.Option(
        None, "--energy-weight", help="Weight of the chip-energy term ([loss] energy; per µJ above the "
                                      "budget). Default: 0 (off)."),
    energy_budget: float = typer.Option(
        None, "--energy-budget", help="Energy budget in µJ per sample ([loss] energy_budget_uj): only energy "
                                      "above it is penalised. Default: 0 (plain penalty)."),
    energy_profile: str = typer.Option(
        None, "--energy-profile", help="hw_profiles name pricing the term ([loss] energy_profile). "
                                       "Default: loihi2."),
    init_from: Path = typer.Option(
        None, "--init-from", exists=True, dir_okay=False,
        help="Start from this checkpoint's weights (same backbone, width and data shape; fresh optimiser): "
             "fine-tune a trained run, e.g. down to an --energy-budget ([model] init_from)."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in OUT from its checkpoint with its recorded settings "
                                "(options may add --epochs or give --data-dir/--cache-dir, nothing else)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in OUT (it is deleted)."),
    tensorboard: bool = typer.Option(
        False, "--tensorboard",
        help="Also log every metric per epoch to OUT/tensorboard (needs pip install 'tmkt[tensorboard]'). "
             "OUT/curves.png is drawn either way."),
) -> None:
    """Train a SLAYER CUBA backbone with TMKT or a baseline; evaluates on pure event input every epoch."""
    from ..data.build import build_datasets
    from ..train.curves import TensorBoardLog
    from ..train.run_folder import check_run_folder, run_checkpoint
    from ..train.trainer import fit as run_fit

    try:
        held, base = None, None  # OUT's checkpoint is read once (they can be large) and handed on
        if resume and config is None and preset is None:
            held = run_checkpoint(out) if out.is_dir() else None
            base = resumed_config(out, held)
        cfg = resolve_config(config, preset, base, dataset=dataset, backbone=backbone, method=method,
                             epochs=epochs, steps=steps, select=select, seed=seed, width=width,
                             data_dir=data_dir, cache_dir=cache_dir, dvs_fraction=dvs_fraction,
                             val_fraction=val_fraction, augment=augment, energy=energy_weight,
                             energy_budget_uj=energy_budget, energy_profile=energy_profile,
                             init_from=init_from)
        # checked before anything is built or written
        held = check_run_folder(out, cfg, resume=resume, overwrite=overwrite, ckpt=held)
        main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 logs
        board = TensorBoardLog(out) if tensorboard and main_rank else None
        train_set, test_set = build_datasets(cfg.data, cfg.seed)
        run_fit(cfg, out, train_set=train_set, test_set=test_set, device=device, resume=resume,
                overwrite=overwrite, on_epoch_end=board, checkpoint=held)
    except (ValueError, RuntimeError, OSError) as exc:
        raise fail(one_line(exc)) from exc
