"""`checkpoint.pt` (contract 1): the typed, versioned checkpoint, its ONE writer and ONE reader, and
`load_model`, which rebuilds the trained network from it.

Only torch, the config and the model registry here: deploy reads checkpoints through this module and must not
pull in data or optimiser code. Every field is stored once: the backbone's name, width, neuron and input
scale live in `train.model`, what the data fixed (classes, input shape, time steps) beside it.

Loading runs no code from the file: the document holds only tensors, numbers, strings, lists and tables, and
is read with `torch.load(weights_only=True)`, whose unpickler refuses everything else (docs/contracts.md says
why not safetensors). A file that needs more (a pickle from elsewhere, or crafted) is refused with one line
saying how a trusted one is converted: `convert_checkpoint`, the only place that unpickles, on request.
"""

from __future__ import annotations

import functools
import os
import pickle
import warnings
import zipfile
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from tmkt_common.atomic import atomic_write
from tmkt_common.errors import CheckpointError, ConfigError

from .config import TrainConfig, config_from_dict
from .models import SpikingNet, build_model, list_models

CHECKPOINT = "checkpoint.pt"  # a run folder's checkpoint file

FORMAT = "tmkt-checkpoint"
VERSION = 3
CONVERT = "tmkt-train convert-checkpoint"


def package_versions() -> dict[str, str]:
    """The versions of the packages that write a checkpoint (looked up once per process: the trainer builds
    a checkpoint every epoch)."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> dict[str, str]:
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
    history: list[dict] = field(default_factory=list)  # every metrics line up to `epoch` (→ metrics.jsonl)
    heads: dict = field(default_factory=dict)  # training-only heads' state (resume)
    optimizer: dict = field(default_factory=dict)  # optimiser state (resume)
    versions: dict = field(default_factory=package_versions)  # packages that wrote it

    def method_state(self, heads: bool = True) -> dict:
        """The run's weights as `Method.load_state_dict` takes them: the model's under `model.`, and the
        training-only heads' unless `heads` is False."""
        return {**{f"model.{k}": v for k, v in self.state_dict.items()}, **(self.heads if heads else {})}

    @property
    def metrics(self) -> dict:
        """The last epoch's metrics line ({} for a version 1-2 checkpoint, which kept none readable)."""
        return self.history[-1] if self.history else {}

    def build(self) -> SpikingNet:
        """The backbone this checkpoint was trained as, with fresh weights."""
        model = self.train.model
        return build_model(model.backbone, num_classes=self.num_classes, input_shape=self.input_shape,
                           width=model.width, neuron=model.neuron, input_scale=model.input_scale)


def _plain(value, where: str):
    """`value` as what `torch.load(weights_only=True)` reads back (tensors, numbers, strings, None, lists,
    tuples, tables; numpy values become numbers or tensors); anything else is a TypeError naming `where`.
    Containers that are already plain are returned as they are (a state_dict keeps its metadata)."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor, torch.Size)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        items = {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
        bad = [k for k in items if not isinstance(k, (str, int))]
        if bad:
            raise TypeError(f"{where}: key {bad[0]!r} is not a string or integer")
        return value if all(items[k] is value[k] for k in items) else items
    if isinstance(value, (list, tuple)):
        items = [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else type(value)(items)
    raise TypeError(f"{where}: a {type(value).__name__} cannot be stored in a checkpoint (only tensors, "
                    "numbers, strings, lists and tables load without running code)")


def write_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    """Write `ckpt` (plain containers, with format and version) to a temp file, fsync, rename over `path`."""
    doc = {"format": FORMAT, "version": VERSION, **{f.name: getattr(ckpt, f.name) for f in fields(ckpt)}}
    doc["train"], doc["input_shape"] = asdict(ckpt.train), list(ckpt.input_shape)
    doc = _plain(doc, "checkpoint")
    with atomic_write(path, "wb") as f:
        torch.save(doc, f)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load_document(path: Path, *, trust_pickle: bool = False) -> dict:
    """The file's document; without `trust_pickle`, read by torch's weights-only unpickler, which builds
    tensors and plain containers and refuses every other object (so no code in the file runs)."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint file there")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a tmkt checkpoint (not a torch archive: damaged, cut short or "
                              "another format)")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as exc:
        if trust_pickle or "Weights only load failed" not in str(exc):
            raise CheckpointError(f"{path}: cannot read checkpoint ({_first_line(exc)})") from exc
        what = str(exc).rpartition("WeightsUnpickler error: ")[2].splitlines()[0]
        raise CheckpointError(
            f"{path}: refused, loading it would run code from the file ({what}); if you trust where it came "
            f"from, convert it once with `{CONVERT} {path} NEW.pt --trust-pickle`") from exc
    except Exception as exc:  # noqa: BLE001 -- torch and a trusted pickle raise anything; one line names the file
        raise CheckpointError(f"{path}: cannot read checkpoint ({_first_line(exc)})") from exc


def _from_version_1(doc: dict) -> dict:
    """A version-1 checkpoint (duplicated fields under `config`) as version 2's fields."""
    config = doc.pop("config")
    if "train" not in config:
        raise KeyError("config.train")
    return {**doc, "train": config["train"], "num_classes": config["num_classes"],
            "input_shape": config["input_shape"], "time_steps": config["time_steps"]}


def _checkpoint(doc: object, path: Path) -> Checkpoint:
    """The typed checkpoint from a loaded document; versions 1 and 2 are converted (they kept only the last
    metrics line, so their `history` is empty)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a tmkt checkpoint (expected format {FORMAT!r})")
    if doc.get("version") not in (1, 2, VERSION):
        raise CheckpointError(f"{path}: checkpoint version {doc.get('version')!r} is not 1 to {VERSION}")
    try:
        values = _from_version_1(doc) if doc["version"] == 1 else doc
        known = {f.name for f in fields(Checkpoint)}
        values = {k: v for k, v in values.items() if k in known}
        if not isinstance(values["train"], dict):
            raise TypeError("train")
        values["train"] = config_from_dict(values["train"], f"{path}: checkpoint config")
        values["input_shape"] = tuple(int(v) for v in values["input_shape"])
        ckpt = Checkpoint(**values)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: malformed checkpoint (missing or bad {exc})") from exc
    backbone = ckpt.train.model.backbone
    if backbone not in list_models():
        raise CheckpointError(f"{path}: unknown backbone {backbone!r} in train.model.backbone; this tmkt "
                              f"builds {list_models()}")
    for name, kind in (("num_classes", int), ("time_steps", int), ("epoch", int), ("state_dict", dict),
                       ("class_names", list), ("history", list), ("heads", dict), ("optimizer", dict)):
        value = getattr(ckpt, name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(f"{path}: malformed checkpoint ({name} is a {type(value).__name__}, not a "
                                  f"{kind.__name__})")
    return ckpt


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint on CPU without running code from it; a missing, unreadable, unsafe, foreign or
    malformed file is a CheckpointError naming it. Versions 1 and 2 are converted."""
    path = Path(path)
    return _checkpoint(_load_document(path), path)


def convert_checkpoint(old: str | os.PathLike, new: str | os.PathLike) -> Checkpoint:
    """Unpickle `old` with torch's full unpickler (THIS RUNS ANY CODE THE FILE HOLDS: only for files the user
    trusts and asked to convert) and write it to `new` as a current checkpoint that loads safely."""
    old = Path(old)
    warnings.warn(f"{old}: unpickling with weights_only=False, which runs any code the file holds",
                  stacklevel=2)
    doc = _load_document(old, trust_pickle=True)
    try:
        ckpt = _checkpoint(_plain(doc, "checkpoint"), old)
    except TypeError as exc:
        raise CheckpointError(f"{old}: cannot convert ({exc})") from exc
    write_checkpoint(new, ckpt)
    return ckpt


def load_model(path: str | os.PathLike) -> tuple[SpikingNet, Checkpoint]:
    """Rebuild the network saved in checkpoint `path`; returns (model in eval mode, the checkpoint). A
    checkpoint whose settings or weights do not build its backbone is a CheckpointError naming the file."""
    ckpt = read_checkpoint(path)
    try:
        model = ckpt.build()
        model.load_state_dict(ckpt.state_dict)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: its {ckpt.train.model.backbone} cannot be rebuilt "
                              f"({_first_line(exc)})") from exc
    return model.eval(), ckpt
