"""`checkpoint.pt` (contract 1): the typed, versioned checkpoint, its ONE writer and ONE reader, and
`load_model`, which rebuilds the trained network from it.

Only torch, the config and the model registry here: deploy reads checkpoints through this module and must not
pull in data or optimiser code. Every field is stored once: the backbone's name, width, neuron and input
scale live in `train.model`, what the data fixed (classes, input shape, time steps) beside it.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version

import torch

from tmkt_common.atomic import atomic_write
from tmkt_common.errors import CheckpointError

from .config import TrainConfig, config_from_dict
from .models import SpikingNet, build_model

CHECKPOINT = "checkpoint.pt"  # a run folder's checkpoint file

FORMAT = "tmkt-checkpoint"
VERSION = 2


def package_versions() -> dict[str, str]:
    found = {}
    for name in ("tmkt", "torch", "lava-dl", "lava-nc"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


@dataclass
class Checkpoint:
    """One training run's state: the network (rebuilt by `load_model`) and what `--resume` continues."""

    train: TrainConfig  # the run's whole config; `train.model` says how to build the backbone
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W) of the frames it was trained on
    time_steps: int  # frames per sample it was trained on
    state_dict: dict
    epoch: int = 0
    class_names: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)  # the last epoch's metrics line
    heads: dict = field(default_factory=dict)  # training-only heads' state (resume)
    optimizer: dict = field(default_factory=dict)  # optimiser state (resume)
    versions: dict = field(default_factory=package_versions)  # packages that wrote it

    def build(self) -> SpikingNet:
        """The backbone this checkpoint was trained as, with fresh weights."""
        model = self.train.model
        return build_model(model.backbone, num_classes=self.num_classes, input_shape=self.input_shape,
                           width=model.width, neuron=model.neuron, input_scale=model.input_scale)


def write_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    """Write `ckpt` (plain containers, with format and version) to a temp file, then rename over `path`."""
    doc = {"format": FORMAT, "version": VERSION, **{f.name: getattr(ckpt, f.name) for f in fields(ckpt)}}
    doc["train"], doc["input_shape"] = asdict(ckpt.train), list(ckpt.input_shape)
    with atomic_write(path, "wb") as f:
        torch.save(doc, f)


def _from_version_1(doc: dict) -> dict:
    """A version-1 checkpoint (duplicated fields under `config`) as version 2's fields."""
    config = doc.pop("config")
    if "train" not in config:
        raise KeyError("config.train")
    return {**doc, "train": config["train"], "num_classes": config["num_classes"],
            "input_shape": config["input_shape"], "time_steps": config["time_steps"]}


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint on CPU; a missing, unreadable, foreign or malformed file is a CheckpointError naming
    it. Version 1 files are converted."""
    try:
        doc = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:  # random or truncated bytes
        raise CheckpointError(f"{path}: not a tmkt checkpoint, or a damaged one (cannot read it: {exc})") \
            from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a tmkt checkpoint (expected format {FORMAT!r})")
    if doc.get("version") not in (1, VERSION):
        raise CheckpointError(f"{path}: checkpoint version {doc.get('version')} is not {VERSION}")
    try:
        values = _from_version_1(doc) if doc["version"] == 1 else doc
        known = {f.name for f in fields(Checkpoint)}
        values = {k: v for k, v in values.items() if k in known}
        values["train"] = config_from_dict(values["train"], f"{path} config")
        values["input_shape"] = tuple(int(v) for v in values["input_shape"])
        return Checkpoint(**values)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: malformed checkpoint (missing or bad {exc})") from exc


def load_model(path: str | os.PathLike) -> tuple[SpikingNet, Checkpoint]:
    """Rebuild the network saved in checkpoint `path`; returns (model in eval mode, the checkpoint)."""
    ckpt = read_checkpoint(path)
    model = ckpt.build()
    model.load_state_dict(ckpt.state_dict)
    return model.eval(), ckpt
