"""The energy term of the loss and lava-dl-style firing-rate targets, configured in `[loss]`.

`energy` (weight) x max(0, E - `energy_budget_uj`), E = chip energy per event sample in µJ on
`energy_profile` (`tmkt_train.models.energy.EnergyMeter`: the deploy report's `streaming` energy, computed
from this forward pass's spikes). A budget of 0 makes it a plain penalty. `max_rates` (layer name or "*" →
spikes per neuron per step) adds lava-dl's event-rate loss, `rate_weight` x sum relu(rate - max)^2. With
`energy` = 0 and no `max_rates` nothing is built and a run is bit-identical to one without these keys.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tmkt_common.energy_model import ProfileError, load_profile

from ..models import NetOutput, SpikingNet
from ..models.energy import EnergyMeter


def _non_negative(value: object, key: str, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"[loss] {key} must be a number >= 0{unit}, got {value!r}")


def check_energy_config(cfg) -> None:
    """One clear error naming the `[loss]` key for a bad energy or rate setting (`cfg`: MethodConfig)."""
    _non_negative(cfg.energy, "energy")
    _non_negative(cfg.energy_budget_uj, "energy_budget_uj", " µJ (0 = no budget)")
    _non_negative(cfg.rate_weight, "rate_weight")
    try:
        profile = load_profile(cfg.energy_profile)
    except ProfileError as exc:
        raise ValueError(f"[loss] energy_profile: {exc}") from exc
    if profile.model != "neuromorphic":
        raise ValueError(f"[loss] energy_profile {cfg.energy_profile!r} is an {profile.model} profile; the "
                         "energy term prices a neuromorphic chip")
    if not isinstance(cfg.max_rates, dict):
        raise ValueError(f"[loss] max_rates must be a table of layer = rate, got {cfg.max_rates!r}")
    for layer, rate in cfg.max_rates.items():
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"[loss] max_rates.{layer} must be a rate in [0, 1], got {rate!r}")


class EnergyTerm:
    """The configured energy and rate terms of one model (no parameters: a plain object, DDP-neutral)."""

    @staticmethod
    def wanted(cfg) -> bool:
        return cfg.energy > 0 or bool(cfg.max_rates)

    def __init__(self, model: SpikingNet, cfg) -> None:
        self.cfg = cfg
        self.meter = EnergyMeter(model, cfg.energy_profile)
        unknown = sorted(set(cfg.max_rates) - {"*", *self.meter.neurons})
        if unknown:
            raise ValueError(f"[loss] max_rates: no neuron layer {unknown}; "
                             f"layers: {list(self.meter.neurons)}")

    def __call__(self, out: NetOutput, part: slice) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """(loss terms, metrics) on the samples `part` of `out`."""
        cfg, terms = self.cfg, {}
        energy = self.meter.energy_uj(out.layers, part)
        if cfg.energy > 0:
            terms["energy"] = cfg.energy * torch.relu(energy - cfg.energy_budget_uj)
        if cfg.max_rates:
            rates = self.meter.rates(out.layers, part)
            limits = {name: cfg.max_rates.get(name, cfg.max_rates.get("*")) for name in rates}
            terms["rate"] = cfg.rate_weight * sum(torch.relu(rates[name] - limit) ** 2
                                                  for name, limit in limits.items() if limit is not None)
        return terms, {"energy_uj": energy.detach()}
