"""Method registry: the name a config or `--method` gives → the Method class (one line per method)."""

from __future__ import annotations

from ..models import SpikingNet
from .ckd import Ckd
from .methods import Method, MethodConfig, RgbPretrain, SingleStream, Tmkt, TwoStream

METHODS: dict[str, type[Method]] = {m.name: m for m in (Tmkt, TwoStream, SingleStream, RgbPretrain, Ckd)}


def build_method(name: str, model: SpikingNet, cfg: MethodConfig, time_steps: int) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[name](model, cfg, time_steps)
