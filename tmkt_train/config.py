"""The run configuration: dataclasses, loaded from and saved to TOML (tomli / tomli_w).

Every knob a run depends on lives here (the methods' too), so `DIR/config.toml` plus the seed reproduces a
run and the checkpoint carries the whole config. Unknown keys are errors that name the file and the key.
Torch-free: reading a config imports neither torch nor lava.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import tomli_w

from tmkt_common.atomic import atomic_write
from tmkt_common.documents import read_table
from tmkt_common.energy_model import ProfileError, load_profile
from tmkt_common.errors import ConfigError

# the choices of MethodConfig's string knobs (methods/ reads them from here: the config stays torch-free)
CLS_MODES = ("tet", "tet-spikes", "rate", "spike_rate")  # methods.losses
MIX_SCHEDULES = ("linear", "power")                     # methods.tsm.mix_ratio
MIX_MODES = ("truncated", "whole", "per-step")          # methods.tsm.mix_mask
HEADS = ("shared", "separate")                          # methods.registry.TwoStream


@dataclass
class MethodConfig:
    """Knobs of every method (each term's weight; 0 switches it off)."""

    ce_source: float = 1.0   # classification of the source (mixed / RGB) stream
    ce_event: float = 1.0    # classification of the event stream
    cka: float = 0.5         # α, domain alignment (KT's 0.5)
    mag: float = 0.5         # β, Modality-Aware Guidance (choose: middle of the papers' sweep {0.1, 0.5, 1})
    mrp: float = 0.5         # γ, Mixup Ratio Perception (same)
    cls_mode: str = "tet"    # "tet" (per-step CE of output currents), "tet-spikes", "rate", "spike_rate"
    logit_scale: float = 4.0
    true_rate: float = 0.2   # spike_rate targets for the right / the other classes
    false_rate: float = 0.03
    mix_schedule: str = "linear"  # r_m over training: "linear" or "power" (progress**mix_power)
    mix_power: float = 3.0
    mix_start: float = 0.0
    mix_end: float = 1.0
    slide_power: float = 3.0  # sliding-KT: P(replace a whole sample by its events) = progress**slide_power
    pretrain_fraction: float = 0.5  # rgb-pretrain: share of epochs on RGB before fine-tuning on DVS
    tet_mse: float = 0.0     # λ of TET's MSE(output current, threshold) term (the papers' 1e-3; 0 = off)
    heads: str = "shared"    # "separate": the source stream has its own readout (copy of the output synapse)
    mix_mode: str = "truncated"  # TMKT's mask: "truncated" (TSM), "whole" or "per-step" (methods.tsm)
    # ckd (tmkt_train.methods.ckd; values are our reading of the paper, which gives none):
    kd: float = 1.0          # weight of the teacher → student KD term (times W(progress))
    kd_tau: float = 4.0      # τ, softmax temperature of teacher and student logits (Hinton's common choice)
    kd_k: float = 10.0       # k, steepness of W = 1/(1+exp(k·(progress − s)))
    kd_s: float = 0.5        # s, progress where W crosses ½ (end of phase I)
    teacher_epochs: int = 20  # the ANN teacher's epochs on the RGB images
    teacher_lr_per_1024: float = 0.03  # its AdamW lr per 1024 samples (cosine to 0)
    # chip energy in the loss (methods.energy): weight x max(0, E - budget), E in µJ per event sample
    energy: float = 0.0             # weight; 0 = no term (runs bit-identical to before)
    energy_budget_uj: float = 0.0   # hinge: only energy above this is penalised; 0 = plain penalty
    energy_profile: str = "loihi2"  # hw_profiles name or TOML path (a neuromorphic profile)
    max_rates: dict = field(default_factory=dict)  # layer (or "*") → max spikes per neuron per step
    rate_weight: float = 1.0        # weight of lava-dl's event-rate loss over max_rates

    def __post_init__(self) -> None:
        check_energy_config(self)

    def check(self, where: str = "config") -> None:
        """One clear error for a choice no method knows or a bad energy setting (options set after
        construction bypass `__post_init__`, so `check_config` runs this again)."""
        for key, choices in (("cls_mode", CLS_MODES), ("mix_schedule", MIX_SCHEDULES),
                             ("mix_mode", MIX_MODES), ("heads", HEADS)):
            if getattr(self, key) not in choices:
                raise ConfigError(f"{where}: loss.{key} must be one of {choices}, not {getattr(self, key)!r}")
        check_energy_config(self)


def _non_negative(value: object, key: str, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"[loss] {key} must be a number >= 0{unit}, got {value!r}")


def check_energy_config(cfg: MethodConfig) -> None:
    """One clear error naming the `[loss]` key for a bad energy or rate setting (run again after options
    change the config, which bypasses `__post_init__`)."""
    _non_negative(cfg.energy, "energy")
    _non_negative(cfg.energy_budget_uj, "energy_budget_uj", " µJ (0 = no budget)")
    _non_negative(cfg.rate_weight, "rate_weight")
    try:
        profile = load_profile(cfg.energy_profile)
    except ProfileError as exc:
        raise ConfigError(f"[loss] energy_profile: {exc}") from exc
    if profile.model != "neuromorphic":
        raise ConfigError(f"[loss] energy_profile {cfg.energy_profile!r} is an {profile.model} profile; the "
                          "energy term prices a neuromorphic chip")
    if not isinstance(cfg.max_rates, dict):
        raise ConfigError(f"[loss] max_rates must be a table of layer = rate, got {cfg.max_rates!r}")
    for layer, rate in cfg.max_rates.items():
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ConfigError(f"[loss] max_rates.{layer} must be a rate in [0, 1], got {rate!r}")


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
    flip: bool = False       # the protocols' pieces, on top of `augment`: left-right flip (p=0.5),
    crop_padding: int = 0    # random crop of the frame zero-padded by this many px (0 = off),
    rotate_degrees: float = 0.0  # random rotation within ± this many degrees (0 = off)
    sampler: str = "shuffle"  # "shuffle" (each sample once per epoch) or "balanced" (classes drawn equally)


@dataclass
class ModelConfig:
    backbone: str = "scnn"
    width: float = 1.0
    input_scale: float = 8.0  # graded-spike payload per data unit (see tmkt_train.models.graph.encode_input)
    neuron: dict = field(default_factory=dict)  # overrides of tmkt_train.models.neuron.DEFAULT_NEURON
    init_rate: float = 0.02  # data-driven init: each layer fires at least this rate (0 = off); calibrate.py
    init_from: str = ""  # checkpoint of the same network to start from (a fine-tune); train/warm_start.py


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
SAMPLERS = ("shuffle", "balanced")  # train.sampling


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
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():  # each field's default, not a whole `cls()` (built and checked) a key
        spec = known[name]
        default = spec.default_factory() if callable(spec.default_factory) else spec.default
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{name}] must be a table")
            kwargs[name] = _fill(type(default), value, f"{where} [{name}]")
        else:
            kwargs[name] = _typed(value, default, f"{where}: {name}")
    return cls(**kwargs)


def _typed(value, default, where: str):
    """`value` if it has the type of the field's `default` (an int where a float goes becomes a float), else
    a ConfigError naming the key (`epochs = "3"` must not reach the trainer as a string)."""
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where} must be {_KIND_NAMES.get(kind, kind.__name__)}, got {value!r}")


_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a table"}


def check_config(cfg: TrainConfig, where: str = "config") -> TrainConfig:
    """One clear error for values no run can use (unknown choices, a selection without a validation split)."""
    ev, opt = cfg.eval, cfg.optim
    if ev.select not in SELECT:
        raise ConfigError(f"{where}: eval.select must be one of {SELECT}, not {ev.select!r}")
    if ev.readout not in READOUTS:
        raise ConfigError(f"{where}: eval.readout must be one of {READOUTS}, not {ev.readout!r}")
    if ev.select == "best-val" and cfg.data.val_fraction <= 0:
        raise ConfigError(f"{where}: eval.select = 'best-val' needs data.val_fraction > 0 (--val-fraction)")
    if ev.every_steps < 0 or opt.steps < 0:
        raise ConfigError(f"{where}: eval.every_steps and optim.steps must be >= 0")
    if opt.epochs < 1:
        raise ConfigError(f"{where}: optim.epochs (--epochs) must be at least 1, got {opt.epochs}")
    if cfg.data.sampler not in SAMPLERS:
        raise ConfigError(f"{where}: data.sampler {cfg.data.sampler!r}: choose one of {SAMPLERS}")
    cfg.loss.check(where)
    return cfg


def config_from_dict(values: dict, where: str = "config") -> TrainConfig:
    return check_config(_fill(TrainConfig, values, where), where)


def read_toml(path: str | os.PathLike) -> dict:
    """A config file's tables as a dict; a missing or unreadable file is a ConfigError naming it."""
    return read_table(Path(path), "TOML", ConfigError, "no config file there")


def load_config(path: str | os.PathLike) -> TrainConfig:
    return config_from_dict(read_toml(path), str(path))


RESUME_CHANGEABLE = ("optim.epochs", "data.data_dir", "data.cache_dir", "data.num_workers")
"""What `--resume` may change: more epochs (the schedule is stretched from the resumed epoch on), where the
data and cache are (paths are the user's, not the run's) and loader workers. Everything else is the run."""


def flat(cfg: TrainConfig | dict) -> dict[str, object]:
    """The config (or one as a plain dict: `asdict`, a saved config.toml or result.json) as
    `{"optim.epochs": 10, ...}` (dotted keys, as in the TOML). Only the config's sections are walked: a
    setting that is a table (model.neuron, loss.max_rates) is one value, compared whole."""
    def walk(doc: dict, template: object, prefix: str) -> dict:
        out = {}
        for key, value in doc.items():
            section = getattr(template, key, None)
            is_section = is_dataclass(section) and isinstance(value, dict)
            out.update(walk(value, section, f"{prefix}{key}.") if is_section else {prefix + key: value})
        return out
    return walk(asdict(cfg) if is_dataclass(cfg) else cfg, TrainConfig(), "")


def check_resume(recorded: TrainConfig, cfg: TrainConfig, where: str) -> None:
    """Refuse to continue the run recorded in `where` with `cfg` if they differ outside RESUME_CHANGEABLE
    (or `cfg` has fewer epochs): one ConfigError naming every contradicting key with both values."""
    was, now = flat(recorded), flat(cfg)
    changed = [f"{key} {was[key]!r} → {now[key]!r}" for key in was
               if key not in RESUME_CHANGEABLE and was[key] != now[key]]
    if now["optim.epochs"] < was["optim.epochs"]:
        changed.append(f"optim.epochs {was['optim.epochs']} → {now['optim.epochs']} (only more epochs)")
    if changed:
        raise ConfigError(f"{where}: --resume continues the run as it was recorded; these options contradict "
                          f"it: {'; '.join(changed)}. Drop them, or train a new run (another --out, or "
                          "--overwrite)")


def save_config(cfg: TrainConfig, path: str | os.PathLike) -> None:
    with atomic_write(path, "wb") as f:
        tomli_w.dump(asdict(cfg), f)
