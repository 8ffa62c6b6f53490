"""Start a run from another run's weights (`[model] init_from`, `tmkt-train fit --init-from`): a fine-tune,
e.g. an unregularised model trained down to an energy budget, so the two differ only by the fine-tune.

The source is read like any checkpoint (weights only, never unpickled) and must be the same network: same
backbone, width, neuron settings, input scale, classes, frame shape and time steps. The training-only heads
(MAG, MRP, separate source head) come along when the source ran the same method, else they start fresh;
the optimiser always starts fresh.
"""

from __future__ import annotations

from tmkt_common.errors import ConfigError

from ..checkpoint import read_checkpoint
from ..config import TrainConfig
from ..methods.registry import Method


def warm_start(method: Method, cfg: TrainConfig, num_classes: int,
               input_shape: tuple[int, int, int], time_steps: int) -> None:
    """Load `cfg.model.init_from`'s weights into `method` (its model, and its heads when compatible)."""
    path = cfg.model.init_from
    ckpt = read_checkpoint(path)
    src, dst = ckpt.train.model, cfg.model
    differences = [f"{key} {mine!r} (it has {theirs!r})" for key, mine, theirs in (
        ("backbone", dst.backbone, src.backbone), ("width", dst.width, src.width),
        ("neuron", dst.neuron, src.neuron), ("input_scale", dst.input_scale, src.input_scale),
        ("classes", num_classes, ckpt.num_classes), ("frame shape", tuple(input_shape), ckpt.input_shape),
        ("time steps", time_steps, ckpt.time_steps)) if mine != theirs]
    if differences:
        raise ConfigError(f"model.init_from {path}: not this run's network: " + "; ".join(differences))
    same_heads = ckpt.train.method == cfg.method and cfg.loss.heads == ckpt.train.loss.heads
    missing, unexpected = method.load_state_dict(ckpt.method_state(heads=same_heads), strict=False)
    wrong = [k for k in missing if k.startswith("model.")] + list(unexpected)
    if wrong:
        raise ConfigError(f"model.init_from {path}: its weights do not fit this network ({wrong[:3]})")
