"""Backbone registry: name → builder, and `load_model` that rebuilds a checkpoint's network from it.

A new backbone is a module with `build(*, num_classes, input_shape, width, neuron, input_scale)` plus one line
in `BUILDERS`. `load_model` reads only the checkpoint (no data or optimiser code), so deploy can call it.
"""

from __future__ import annotations

import os

from ..train.checkpoint import read_checkpoint
from . import resnet18, scnn, vggsnn
from .graph import SpikingNet
from .neuron import neuron_params

BUILDERS = {"scnn": scnn.build, "vggsnn": vggsnn.build, "resnet18": resnet18.build}
DEFAULT_INPUT_SCALE = 8.0


def list_models() -> list[str]:
    return sorted(BUILDERS)


def build_model(
    name: str,
    *,
    num_classes: int,
    input_shape: tuple[int, int, int] = (2, 48, 48),
    width: float = 1.0,
    neuron: dict | None = None,
    input_scale: float = DEFAULT_INPUT_SCALE,
) -> SpikingNet:
    """Build backbone `name`; it keeps its kwargs (`build_kwargs`) so a checkpoint can rebuild it."""
    if name not in BUILDERS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {list_models()}")
    if num_classes < 1 or width <= 0 or input_scale <= 0:
        raise ValueError(f"backbone {name!r}: num_classes, width and input_scale must be positive")
    input_shape = tuple(int(v) for v in input_shape)
    model = BUILDERS[name](num_classes=num_classes, input_shape=input_shape, width=float(width),
                           neuron=neuron_params(neuron), input_scale=float(input_scale))
    model.name = name
    model.build_kwargs = {"num_classes": int(num_classes), "input_shape": list(input_shape),
                          "width": float(width), "neuron": dict(neuron or {}),
                          "input_scale": float(input_scale)}
    return model


def load_model(path: str | os.PathLike) -> tuple[SpikingNet, dict]:
    """Rebuild the network saved in checkpoint `path`; returns (model in eval mode, the checkpoint dict)."""
    ckpt = read_checkpoint(path)
    try:
        backbone = ckpt["config"]["backbone"]
        model = build_model(backbone["name"], **backbone["kwargs"])
        model.load_state_dict(ckpt["state_dict"])
    except KeyError as exc:
        raise ValueError(f"{path}: not a tmkt checkpoint (no {exc.args[0]!r} entry)") from exc
    except (TypeError, RuntimeError) as exc:  # a backbone entry or weights that do not fit the network
        first = str(exc).splitlines()[0]
        raise ValueError(f"{path}: its backbone entry or weights do not build a network ({first})") from exc
    return model.eval(), ckpt
