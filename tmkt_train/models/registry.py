"""Backbone registry: name → builder (`tmkt_train.checkpoint.load_model` rebuilds a checkpoint's net with it).

A new backbone is a module with `build(*, num_classes, input_shape, width, neuron, input_scale)` plus one line
in `BUILDERS`.
"""

from __future__ import annotations

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
    """Build backbone `name` (the checkpoint stores these arguments in its config and data fields)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {list_models()}")
    if num_classes < 1 or width <= 0 or input_scale <= 0:
        raise ValueError(f"backbone {name!r}: num_classes, width and input_scale must be positive")
    input_shape = tuple(int(v) for v in input_shape)
    return BUILDERS[name](num_classes=num_classes, input_shape=input_shape, width=float(width),
                          neuron=neuron_params(neuron), input_scale=float(input_scale))

