"""The break-even firing rate: the mean rate at which a net's chip energy equals its ANN's, or why there is
none.

With the structure fixed, chip energy is affine in the spikes of the network's neurons: a fixed part (idle
updates of every neuron at every step, the input events' synaptic ops and messages, static power) plus a
cost per spike (its synaptic ops at this net's measured mean fan-out per spike, its messages, and the extra
cost of an active over an idle update). So E(r) = fixed + r x neuron_updates x per_spike, where r is the mean
spikes per neuron per step, and the break-even rate is r* = (E_ann - fixed) / (neuron_updates x per_spike).
If the fixed part alone reaches the ANN's energy, no rate breaks even; the result names the largest fixed
term and what it would have to shrink to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tmkt_common.energy_model import Profile
from tmkt_deploy.energy.estimate import estimate, message_energy
from tmkt_deploy.energy.synops import Activity


@dataclass(frozen=True)
class BreakEven:
    """Chip `chip` against ANN `ann` for one activity: `rate` is r* (None when no rate breaks even)."""

    chip: str
    ann: str
    ann_j: float
    chip_j: float
    rate_now: float
    rate: float | None
    fixed_j: dict[str, float]
    per_spike_j: float
    statement: str

    def to_json(self) -> dict:
        return asdict(self)


def break_even(chip: Profile, ann: Profile, activity: Activity, chips: int = 1) -> BreakEven:
    """Where `activity`'s network on `chip` costs what it costs as an ANN on `ann`."""
    ann_j = estimate(ann, activity).total
    chip_j = estimate(chip, activity, chips).total
    e_syn, e_msg = chip.si("synaptic_op_energy"), message_energy(chip)
    e_idle, e_active = chip.si("neuron_update_energy_inactive"), chip.si("neuron_update_energy_active")
    input_synops = sum(lay.input_synops for lay in activity.layers)
    input_routed = sum(lay.input_spikes_in for lay in activity.layers)
    fixed = {
        "idle neuron updates": activity.neuron_updates * e_idle,
        "input events (synaptic ops + messages)": input_synops * e_syn + input_routed * e_msg,
        "static": chips * activity.steps * chip.si("static_energy_per_chip_step"),
    }
    spikes = activity.spikes
    if spikes > 0:
        synaptic = (activity.synops - input_synops) * e_syn
        per_spike = (synaptic + (activity.spikes_routed - input_routed) * e_msg) / spikes + e_active - e_idle
    else:
        per_spike = e_active - e_idle  # no spikes measured: only the update cost is known
    fixed_j, rate_now = sum(fixed.values()), activity.firing_rate
    head = f"{chip.name} vs {ann.name} ({ann_j * 1e6:.3g} µJ)"
    if fixed_j >= ann_j:
        term, value = max(fixed.items(), key=lambda kv: kv[1])
        need = ""
        if term == "idle neuron updates" and activity.neuron_updates:
            rest = fixed_j - value
            room = (ann_j - rest) / activity.neuron_updates
            need = (f"; break-even needs idle updates below {room * 1e12:.3g} pJ (now {e_idle * 1e12:.3g} "
                    f"pJ) or {fixed_j / ann_j:.3g}x fewer neurons x steps" if room > 0 else
                    f"; even free idle updates would not do: the other fixed terms alone are "
                    f"{rest * 1e6:.3g} µJ")
        parts = ", ".join(f"{k} {v * 1e6:.3g} µJ" for k, v in fixed.items())
        statement = (f"{head}: no firing rate breaks even: the fixed cost {fixed_j * 1e6:.3g} µJ ({parts}; "
                     f"{activity.neurons:,} neurons x {activity.steps} steps) alone exceeds the ANN; the "
                     f"largest term is {term}{need}.")
        return BreakEven(chip.name, ann.name, ann_j, chip_j, rate_now, None, fixed, per_spike, statement)
    if per_spike <= 0:
        statement = f"{head}: spikes cost nothing on this profile, the chip is cheaper at every rate."
        return BreakEven(chip.name, ann.name, ann_j, chip_j, rate_now, float("inf"), fixed, per_spike,
                         statement)
    rate = (ann_j - fixed_j) / (activity.neuron_updates * per_spike)
    side = "below" if rate_now <= rate else "above"
    statement = (f"{head}: break-even at {rate:.4g} spikes per neuron per step (the net fires at "
                 f"{rate_now:.4g}, {side} it; chip {chip_j * 1e6:.3g} µJ).")
    return BreakEven(chip.name, ann.name, ann_j, chip_j, rate_now, rate, fixed, per_spike, statement)
