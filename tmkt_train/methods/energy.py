"""The energy term of the loss and lava-dl-style firing-rate targets, configured in `[loss]` (the keys
and their checks: `tmkt_train.config.MethodConfig`).

`energy` (weight) x max(0, E - `energy_budget_uj`), E = chip energy per event sample in µJ on
`energy_profile` (`tmkt_train.models.energy.EnergyMeter`: the deploy report's `streaming` energy, computed
from this forward pass's spikes). A budget of 0 makes it a plain penalty. `max_rates` (layer name or "*" →
spikes per neuron per step) adds lava-dl's event-rate loss, `rate_weight` x sum relu(rate - max)^2. With
`energy` = 0 and no `max_rates` nothing is built and a run is bit-identical to one without these keys.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import MethodConfig
from ..models import NetOutput, SpikingNet
from ..models.energy import EnergyMeter


class EnergyTerm:
    """The configured energy and rate terms of one model (no parameters: a plain object, DDP-neutral)."""

    @staticmethod
    def wanted(cfg: MethodConfig) -> bool:
        return cfg.energy > 0 or bool(cfg.max_rates)

    def __init__(self, model: SpikingNet, cfg: MethodConfig) -> None:
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
