"""The run configuration: dataclasses, loaded from and saved to TOML (tomli / tomli_w).

Every knob a run depends on lives here, so `DIR/config.toml` plus the seed reproduces a run and the checkpoint
carries the whole config. Unknown keys are errors that name the file and the key.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import tomli
import tomli_w

from ..atomic import atomic_write
from ..tmkt.methods import MethodConfig


@dataclass
class DataConfig:
    dataset: str = "ndigits"
    data_dir: str = ""       # "" = the dataset's default location
    cache_dir: str = ""
    time_steps: int = 10
    size: int = 48
    dvs_fraction: float = 1.0
    limit: int = 0           # keep the first N event samples per class (0 = all): quick runs and tests
    num_workers: int = 0
    val_fraction: float = 0.0  # hold out this share of each class's training events as `val` (0 = off)
    augment: bool = False    # random flip + translation per training sample (tmkt_train.data.augment)


@dataclass
class ModelConfig:
    backbone: str = "scnn"
    width: float = 1.0
    input_scale: float = 8.0  # graded-spike payload per data unit (see tmkt_train.models.graph.encode_input)
    neuron: dict = field(default_factory=dict)  # overrides of tmkt_train.models.neuron.DEFAULT_NEURON
    init_rate: float = 0.02  # data-driven init: each layer fires at least this rate (0 = off); calibrate.py


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then cosine decay to `min_lr`, per step (the method doc's recipe).

    The papers' lr is 5e-3 per 1024 samples over hundreds of epochs; our default (0.1 per 1024, 3.1e-3 at
    batch 32) suits runs of a few to tens of epochs, where the 8-bit weight grid (steps of 1/32) must move.
    """

    epochs: int = 10
    batch_size: int = 32
    lr_per_1024: float = 0.1  # lr = lr_per_1024 * batch_size / 1024 (see below)
    weight_decay: float = 0.01
    warmup_epochs: float = 5.0  # capped at a fifth of the run, so short runs still decay
    min_lr: float = 1e-5
    steps: int = 0  # > 0: train exactly this many optimiser steps (epochs then follow, see trainer.plan)


SELECT = ("last", "best-val")
READOUTS = ("spikes", "current")


@dataclass
class EvalConfig:
    """Which weights a run reports and how they are scored (tmkt_train.train.selection).

    `best-val` keeps the weights of the epoch with the highest validation accuracy in `best.pt` (it needs
    `data.val_fraction` > 0); with a validation split the test set is scored once, after training, on the
    chosen weights. `readout`: the class is the argmax over time of the output spikes (what the chip
    reports) or of the output current. `every_steps` > 0: evaluate and checkpoint only at the end of the
    epochs that pass a multiple of that many optimiser steps, and after the last (few-event epochs are a few
    steps each; scoring and saving each would cost as much as training)."""

    select: str = "last"
    readout: str = "spikes"
    every_steps: int = 0


@dataclass
class TrainConfig:
    method: str = "tmkt"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: MethodConfig = field(default_factory=MethodConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    @property
    def lr(self) -> float:
        return self.optim.lr_per_1024 * self.optim.batch_size / 1024


def _fill(cls, values: dict, where: str):
    """Build dataclass `cls` from a TOML table, recursing into nested dataclasses; unknown keys are errors."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        default = known[name].default_factory() if callable(known[name].default_factory) else None
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: [{name}] must be a table")
            kwargs[name] = _fill(type(default), value, f"{where} [{name}]")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def check_config(cfg: TrainConfig, where: str = "config") -> TrainConfig:
    """One clear error for values no run can use (unknown choices, a selection without a validation split)."""
    ev, opt = cfg.eval, cfg.optim
    if ev.select not in SELECT:
        raise ValueError(f"{where}: eval.select must be one of {SELECT}, not {ev.select!r}")
    if ev.readout not in READOUTS:
        raise ValueError(f"{where}: eval.readout must be one of {READOUTS}, not {ev.readout!r}")
    if ev.select == "best-val" and cfg.data.val_fraction <= 0:
        raise ValueError(f"{where}: eval.select = 'best-val' needs data.val_fraction > 0 (--val-fraction)")
    if ev.every_steps < 0 or opt.steps < 0:
        raise ValueError(f"{where}: eval.every_steps and optim.steps must be >= 0")
    cfg.loss.check(where)
    return cfg


def config_from_dict(values: dict, where: str = "config") -> TrainConfig:
    return check_config(_fill(TrainConfig, values, where), where)


def load_config(path: str | os.PathLike) -> TrainConfig:
    path = Path(path)
    try:
        values = tomli.loads(path.read_text())
    except (OSError, tomli.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read config ({exc})") from exc
    return config_from_dict(values, str(path))


def save_config(cfg: TrainConfig, path: str | os.PathLike) -> None:
    with atomic_write(path, "wb") as f:
        tomli_w.dump(asdict(cfg), f)
