"""Assemble the energy/accuracy report of several backbones on several hardware profiles as one document.

The document (`report.json`) is what the Markdown and the plots are rendered from, so they never disagree:

    {"format": "tmkt-energy-report", "version": 2, "schedule": "isolated" | "streaming",
     "profiles": {name: {model, description, file, quantities: {field: {value, unit, kind, bound, source,
                                                                         note}}}},
     "backbones": [{name, source, samples, accuracy: {float, quantized, deployed}, agreement,
                    time_steps, latency_steps, steps (per sample, this schedule), neurons, synapses,
                    input_events, spikes_per_sample,
                    spikes_per_layer: {layer: x}, firing_rates: {layer: spikes per neuron per step},
                    synops, synops_nonzero, neuron_updates, active_updates, spikes_routed, macs, acs,
                    payload_bits: {layer: bits of graded messages (netx imports)},
                    energy_j: {profile: {total, breakdown: {part: J}, kinds}},
                    schedules: {schedule: {steps, spikes_per_sample, synops, neuron_updates, energy_j}},
                    sensitivity_j: {profile: {reading: J or null}},
                    break_even: {chip profile: {ann profile: BreakEven}},
                    fit: {profile: {cores, chips, weight_bits, weights_fit, cores_by_layer, limited_by}}}]}

The top-level fields of a backbone are those of the report's `schedule` (default `isolated`, what Lava and
the spike check run); `schedules` prices both. Counts are per inference (one sample); energies in joules.
"""

from __future__ import annotations

from dataclasses import asdict

from tmkt_deploy.energy import (
    DEFAULT_SCHEDULE,
    SCHEDULES,
    SENSITIVITY,
    Activity,
    Profile,
    break_even,
    count_activity,
    estimate,
    fit,
    schedule_steps,
)
from tmkt_deploy.ir import Network, sends_graded
from tmkt_deploy.report.runs import Run

REPORT_FORMAT = "tmkt-energy-report"
REPORT_VERSION = 2


def profile_entry(profile: Profile) -> dict:
    return {"model": profile.model, "description": profile.description, "file": profile.path.name,
            "quantities": {k: {"value": q.value, "unit": q.unit, "kind": q.kind, "bound": q.bound,
                               "source": q.source, "note": q.note} for k, q in profile.quantities.items()}}


def run_activity(run: Run, schedule: str) -> Activity:
    """The run's exact per-sample activity under `schedule`."""
    return count_activity(run.net, run.activity.mean_spikes(schedule),
                          steps=schedule_steps(run.net, schedule),
                          active_updates=run.activity.mean_changed(schedule))


def _energies(activity: Activity, profiles: list[Profile], chips: dict[str, int]) -> dict:
    energy = {p.name: estimate(p, activity, chips.get(p.name, 1)) for p in profiles}
    return {name: {"total": e.total, "breakdown": e.breakdown, "kinds": e.kinds}
            for name, e in energy.items()}


def backbone_entry(run: Run, profiles: list[Profile], schedule: str = DEFAULT_SCHEDULE) -> dict:
    """Activity, energy per profile and schedule, sensitivity, break-even and fit of one backbone."""
    activities = {s: run_activity(run, s) for s in SCHEDULES}
    activity = activities[schedule]
    fits = {p.name: fit(run.net, p, activity) for p in profiles if p.can_fit}
    chips = {name: f.chips for name, f in fits.items()}
    chip_profiles = [p for p in profiles if p.model == "neuromorphic"]
    ann_profiles = [p for p in profiles if p.model == "ann"]
    return {
        "name": run.name,
        "source": run.source,
        "samples": run.samples,
        "accuracy": run.accuracy,
        "agreement": run.agreement,
        "time_steps": run.net.time_steps,
        "latency_steps": run.net.latency(),
        "steps": activity.steps,
        "neurons": activity.neurons,
        "synapses": activity.synapses,
        "input_events": activity.input_spikes,
        "spikes_per_sample": activity.spikes,
        "spikes_per_layer": {lay.name: lay.spikes for lay in activity.layers},
        "firing_rates": {lay.name: lay.spikes / (lay.neurons * activity.steps) for lay in activity.layers},
        "synops": activity.synops,
        "synops_nonzero": activity.synops_nonzero,
        "neuron_updates": activity.neuron_updates,
        "active_updates": activity.active_updates,
        "spikes_routed": activity.spikes_routed,
        "macs": activity.macs,
        "acs": activity.acs,
        "payload_bits": payload_bits(run.net),
        "energy_j": _energies(activity, profiles, chips),
        "schedules": {s: {"steps": a.steps, "spikes_per_sample": a.spikes, "synops": a.synops,
                          "neuron_updates": a.neuron_updates, "firing_rate": a.firing_rate,
                          "energy_j": _energies(a, profiles, chips)} for s, a in activities.items()},
        "sensitivity_j": {p.name: _sensitivity(p, activity, chips.get(p.name, 1)) for p in chip_profiles},
        "break_even": {c.name: {a.name: break_even(c, a, activity, chips.get(c.name, 1)).to_json()
                                for a in ann_profiles} for c in chip_profiles},
        "fit": {name: {k: v for k, v in asdict(f).items() if k != "profile"} for name, f in fits.items()},
    }


def _sensitivity(profile: Profile, activity: Activity, chips: int) -> dict[str, float | None]:
    """Energy under each sensitivity reading; None for "state changed" where it was not measured (netx
    imports run in stream timing, whose state changes the emulator does not count)."""
    return {label: None if reading.active == "changed" and activity.active_updates is None
            else estimate(profile, activity, chips, reading).total for label, reading in SENSITIVITY.items()}


def payload_bits(net: Network) -> dict[str, int]:
    """Layers whose messages carry a graded payload (sigma-delta, CUBA with messageBits), with its bits.

    Their counts are messages (a nonzero output), each charged as one spike message and one synaptic op per
    connection: Loihi 2 sends a graded payload (up to 24 bits) inside the spike message, and no energy per
    payload bit has been published, so the payload is reported, not priced."""
    return {lay.name: lay.neuron.message_bits for lay in net.layers if sends_graded(lay.neuron)}


def _unique_names(runs: list[Run]) -> list[str]:
    """Backbone names, qualified by their source where two runs share a network name."""
    names = [run.name for run in runs]
    return [f"{run.name} ({run.source})" if names.count(run.name) > 1 else run.name for run in runs]


def build_report(runs: list[Run], profiles: list[Profile], schedule: str = DEFAULT_SCHEDULE) -> dict:
    if not runs:
        raise ValueError("nothing to report: give a run directory or --netx FILE --input SPIKES.npy")
    if schedule not in SCHEDULES:
        raise ValueError(f"--schedule {schedule!r}: choose one of {list(SCHEDULES)}")
    backbones = [{**backbone_entry(run, profiles, schedule), "name": name}
                 for run, name in zip(runs, _unique_names(runs), strict=True)]
    return {"format": REPORT_FORMAT, "version": REPORT_VERSION, "schedule": schedule,
            "profiles": {p.name: profile_entry(p) for p in profiles}, "backbones": backbones}
