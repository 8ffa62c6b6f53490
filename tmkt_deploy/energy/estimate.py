"""Energy per inference of a network's recorded activity on one hardware profile.

A neuromorphic chip pays per event (Davies et al. 2018's cost model): synaptic ops, neuron updates (active or
idle), spike messages (within a tile plus tile hops), and static energy per chip per step. The ANN equivalent
pays per arithmetic operation of one dense forward pass (MACs and accumulates, Horowitz 2014), whatever the
spikes were. `kinds` says which kinds of number (spec / measured / simulated / estimated) the figure rests on.

`Reading` is how ambiguous parts of the chip model are read; the default is the report's headline, the other
readings are its sensitivity rows: idle updates free (a chip that skips neurons without input), "active"
meaning "state changed" rather than "spiked", zero-weight synapses skipped (a sparse chip mapping).
"""

from __future__ import annotations

from dataclasses import dataclass

from tmkt_common.energy_model import Profile
from tmkt_deploy.energy.synops import Activity


@dataclass(frozen=True)
class Reading:
    """How to read the chip model: `idle_cost` (charge idle neuron updates), `active` ("spiked" or
    "changed"), `skip_zero_weights` (zero-weight synapses cost nothing)."""

    idle_cost: bool = True
    active: str = "spiked"
    skip_zero_weights: bool = False


DEFAULT_READING = Reading()
SENSITIVITY = {
    "idle updates cost 0": Reading(idle_cost=False),
    "active = state changed": Reading(active="changed"),
    "zero-weight synapses skipped": Reading(skip_zero_weights=True),
}


@dataclass(frozen=True)
class Energy:
    """Joules per inference, split by where they go; `total` is the sum of `breakdown`."""

    profile: str
    breakdown: dict[str, float]
    kinds: list[str]

    @property
    def total(self) -> float:
        return sum(self.breakdown.values())


def message_energy(profile: Profile) -> float:
    """Joules per routed spike message: within-tile energy plus `mean_hops` tile hops."""
    return profile.si("spike_energy_within_tile") + profile.si("mean_hops") * profile.si("hop_energy")


def estimate(profile: Profile, activity: Activity, chips: int = 1,
             reading: Reading = DEFAULT_READING) -> Energy:
    """Energy per inference of `activity` on `profile` (`chips` only scales the static share)."""
    if profile.model == "ann":
        breakdown = {
            "mac": activity.macs * profile.si("mac_energy"),
            "accumulate": activity.acs * profile.si("ac_energy"),
        }
    else:
        if reading.active == "changed":
            if activity.active_updates is None:
                raise ValueError("the 'state changed' reading needs measured active updates")
            active = activity.active_updates
        else:
            active = min(activity.spikes, activity.neuron_updates)
        idle = profile.si("neuron_update_energy_inactive") if reading.idle_cost else 0.0
        synops = activity.synops_nonzero if reading.skip_zero_weights else activity.synops
        breakdown = {
            "synaptic": synops * profile.si("synaptic_op_energy"),
            "neuron": active * profile.si("neuron_update_energy_active")
            + (activity.neuron_updates - active) * idle,
            "routing": activity.spikes_routed * message_energy(profile),
            "static": chips * activity.steps * profile.si("static_energy_per_chip_step"),
        }
    return Energy(profile.name, breakdown, sorted(profile.kinds))
