"""Energy per inference of a network's recorded activity on one hardware profile.

A neuromorphic chip pays per event (Davies et al. 2018's cost model): synaptic ops, neuron updates (active or
idle), spike messages (within a tile plus tile hops), and static energy per chip per step. The ANN equivalent
pays per arithmetic operation of one dense forward pass (MACs and accumulates, Horowitz 2014), whatever the
spikes were. `kinds` says which kinds of number (spec / measured / simulated / estimated) the figure rests on.
"""

from __future__ import annotations

from dataclasses import dataclass

from tmkt_deploy.energy.profiles import Profile
from tmkt_deploy.energy.synops import Activity


@dataclass(frozen=True)
class Energy:
    """Joules per inference, split by where they go; `total` is the sum of `breakdown`."""

    profile: str
    breakdown: dict[str, float]
    kinds: list[str]

    @property
    def total(self) -> float:
        return sum(self.breakdown.values())


def estimate(profile: Profile, activity: Activity, chips: int = 1) -> Energy:
    """Energy per inference of `activity` on `profile` (`chips` only scales the static share)."""
    if profile.model == "ann":
        breakdown = {
            "mac": activity.macs * profile.si("mac_energy"),
            "accumulate": activity.acs * profile.si("ac_energy"),
        }
    else:
        active = min(activity.spikes, activity.neuron_updates)
        hops = profile.si("mean_hops") * profile.si("hop_energy")
        per_message = profile.si("spike_energy_within_tile") + hops
        breakdown = {
            "synaptic": activity.synops * profile.si("synaptic_op_energy"),
            "neuron": active * profile.si("neuron_update_energy_active")
            + (activity.neuron_updates - active) * profile.si("neuron_update_energy_inactive"),
            "routing": activity.spikes_routed * per_message,
            "static": chips * activity.steps * profile.si("static_energy_per_chip_step"),
        }
    return Energy(profile.name, breakdown, sorted(profile.kinds))
