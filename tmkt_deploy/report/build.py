"""Assemble the energy/accuracy report of several backbones on several hardware profiles as one document.

The document (`report.json`) is what the Markdown and the plots are rendered from, so they never disagree:

    {"format": "tmkt-energy-report", "version": 1,
     "profiles": {name: {model, description, file, quantities: {field: {value, unit, kind, source, note}}}},
     "backbones": [{name, source, samples, accuracy: {float, quantized, deployed}, agreement,
                    time_steps, latency_steps, neurons, synapses, input_events, spikes_per_sample,
                    spikes_per_layer: {layer: x}, synops, neuron_updates, spikes_routed, macs, acs,
                    payload_bits: {layer: bits of graded messages (netx imports)},
                    energy_j: {profile: {total, breakdown: {part: J}, kinds}},
                    fit: {profile: {cores, chips, weight_bits, weights_fit, cores_by_layer, limited_by}}}]}

Counts are per inference (one sample); energies in joules per inference.
"""

from __future__ import annotations

from dataclasses import asdict

from tmkt_deploy.energy import Profile, count_activity, estimate, fit
from tmkt_deploy.ir import Network, sends_graded
from tmkt_deploy.report.runs import Run

REPORT_FORMAT = "tmkt-energy-report"
REPORT_VERSION = 1


def profile_entry(profile: Profile) -> dict:
    return {"model": profile.model, "description": profile.description, "file": profile.path.name,
            "quantities": {k: {"value": q.value, "unit": q.unit, "kind": q.kind, "source": q.source,
                               "note": q.note} for k, q in profile.quantities.items()}}


def backbone_entry(run: Run, profiles: list[Profile]) -> dict:
    """Activity, energy per profile and fit per neuromorphic profile of one backbone."""
    activity = count_activity(run.net, run.spikes)
    fits = {p.name: fit(run.net, p, activity) for p in profiles if p.model == "neuromorphic"}
    energy = {p.name: estimate(p, activity, fits[p.name].chips if p.name in fits else 1) for p in profiles}
    return {
        "name": run.name,
        "source": run.source,
        "samples": run.samples,
        "accuracy": run.accuracy,
        "agreement": run.agreement,
        "time_steps": run.net.time_steps,
        "latency_steps": activity.steps,
        "neurons": activity.neurons,
        "synapses": activity.synapses,
        "input_events": activity.input_spikes,
        "spikes_per_sample": activity.spikes,
        "spikes_per_layer": {lay.name: lay.spikes for lay in activity.layers},
        "synops": activity.synops,
        "neuron_updates": activity.neuron_updates,
        "spikes_routed": activity.spikes_routed,
        "macs": activity.macs,
        "acs": activity.acs,
        "payload_bits": payload_bits(run.net),
        "energy_j": {name: {"total": e.total, "breakdown": e.breakdown, "kinds": e.kinds}
                     for name, e in energy.items()},
        "fit": {name: {k: v for k, v in asdict(f).items() if k != "profile"} for name, f in fits.items()},
    }


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


def build_report(runs: list[Run], profiles: list[Profile]) -> dict:
    if not runs:
        raise ValueError("nothing to report: give a run directory or --netx FILE --input SPIKES.npy")
    backbones = [{**backbone_entry(run, profiles), "name": name}
                 for run, name in zip(runs, _unique_names(runs), strict=True)]
    return {"format": REPORT_FORMAT, "version": REPORT_VERSION,
            "profiles": {p.name: profile_entry(p) for p in profiles}, "backbones": backbones}
