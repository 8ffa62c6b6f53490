"""`report.md`: the report document as Markdown tables, with the figures and every number's source."""

from __future__ import annotations

from tmkt_deploy.report.plots import FIGURES

ASSUMPTIONS = """\
- Per inference = one sample of T frames. Schedule `isolated`: the chip runs T + latency steps per sample
  (latency = one step per layer; the empty steps flush the pipeline), what Lava and the spike check run.
  `streaming`: the next sample's frames follow at once, each layer resetting every T steps at its own
  latency, so a sample costs T steps and the latency is paid once per stream; predictions are identical
  (they read the same T steps). Both are priced; the headline tables use the report's schedule.
- Synaptic ops = per-neuron spike counts x exact structural fan-out of each neuron (conv borders, stride,
  dilation, groups; zero weights included), summed: exact, not a mean fan-out. Counts are means over the
  checked samples.
- Neuron updates: every neuron every step; a step in which the neuron spikes is charged as an active update.
  The sensitivity table re-prices with idle updates free, with "active" = state changed (a spike, or the
  current or voltage moved), and with zero-weight synapses skipped.
- Spikes routed: one message per spike per consuming layer, within-tile energy plus `mean_hops` tile hops.
- Static energy: `static_energy_per_chip_step` x chips x steps; 0 in the shipped profiles (not published),
  so neuromorphic totals are dynamic energy only.
- ANN equivalent: one dense forward pass; learned weights cost a MAC each, sum-pool and identity synapses an
  accumulate; arithmetic only (no memory traffic), a lower bound for a real GPU.
- Cores: each layer on its own cores, by neurons or by dense synapse memory at the network's weight bits,
  whichever needs more (no conv weight sharing: an upper bound for conv layers).
- lava-dl netx imports run freely for the input's T steps (netx's run, no flush steps), so both schedules
  are the same. Their counts are messages: a layer's nonzero outputs, per neuron (synaptic ops exact as
  above). Sigma-delta and graded (messageBits) layers send a payload with each message (`payload_bits` in
  report.json); each message is charged as one spike message plus one synaptic op per connection, as
  Loihi 2 carries the payload (up to 24 bits) in the message; no per-bit energy is published, so payload
  size is reported, not priced. State changes are not measured for them (sensitivity "state changed": —).
- Loihi 2 per-op energies are not published by Intel; the profile uses Loihi 1's as point proxies of
  unknown direction (kind `estimated`, bound `point`). Each figure's kind and bound (lower / upper / point)
  are listed below: check them before quoting a result.
- Break-even firing rate: chip energy is affine in the network's spikes (fixed: idle updates, input events,
  static; per spike: its synaptic ops at this net's mean fan-out per spike, its messages, active minus idle
  update); the rate at which it equals the ANN's energy, or why no rate does."""


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _uj(joules: float | None) -> str:
    return "—" if joules is None else f"{joules * 1e6:.3g}"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def _has_fit(backbones: list[dict], profile: str) -> bool:
    """Whether the report has a fit for `profile` (profiles without chip capacity have none)."""
    return profile in backbones[0]["fit"]


def _conclusion(backbones: list[dict]) -> list[str]:
    """One line per backbone, chip profile and ANN profile: the break-even rate or why there is none."""
    lines = [f"- {b['name']}: {entry['statement']}" for b in backbones
             for per_ann in b["break_even"].values() for entry in per_ann.values()]
    return lines or ["- no neuromorphic and ANN profile pair in this report"]


def render_markdown(report: dict) -> str:
    backbones, profiles = report["backbones"], report["profiles"]
    lines = ["# Energy and accuracy report", "",
             f"{len(backbones)} backbone(s) on {len(profiles)} hardware profile(s): "
             f"{', '.join(profiles)}. Counts and energies are per inference (one sample).", "",
             "## Backbones", ""]
    lines += _table(
        ["backbone", "float", "quantized", "deployed", "agreement", "samples", "T", "latency (steps)",
         "neurons", "synapses", "input events", "spikes / sample", "synops"],
        [[b["name"], _pct(b["accuracy"]["float"]), _pct(b["accuracy"]["quantized"]),
          _pct(b["accuracy"]["deployed"]), _pct(b["agreement"]), str(b["samples"]), str(b["time_steps"]),
          str(b["latency_steps"]), _num(b["neurons"]), _num(b["synapses"]), _num(b["input_events"]),
          _num(b["spikes_per_sample"]), _num(b["synops"])] for b in backbones])
    schedule = report["schedule"]
    lines += ["", f"## Energy per inference (µJ), schedule `{schedule}`", ""]
    lines += _table(["backbone", *profiles],
                    [[b["name"], *(f"{b['energy_j'][p]['total'] * 1e6:.3g}" for p in profiles)]
                     for b in backbones])
    lines += ["", "### Both schedules", ""]
    lines += _table(["backbone", "schedule", "steps / sample", "spikes / sample", "synops",
                     *(f"{p} µJ" for p in profiles)],
                    [[b["name"], s + (" (headline)" if s == schedule else ""), str(v["steps"]),
                      _num(v["spikes_per_sample"]), _num(v["synops"]),
                      *(f"{v['energy_j'][p]['total'] * 1e6:.3g}" for p in profiles)]
                     for b in backbones for s, v in b["schedules"].items()])
    chip_profiles = [p for p in profiles if profiles[p]["model"] == "neuromorphic"]
    if chip_profiles:
        readings = list(backbones[0]["sensitivity_j"][chip_profiles[0]])
        lines += ["", f"### Sensitivity (µJ, schedule `{schedule}`)", ""]
        lines += _table(["backbone", "profile", "as counted", *readings],
                        [[b["name"], p, f"{b['energy_j'][p]['total'] * 1e6:.3g}",
                          *(_uj(b['sensitivity_j'][p][r]) for r in readings)]
                         for b in backbones for p in chip_profiles])
    lines += ["", f"### Firing rate per layer (spikes per neuron per step, schedule `{schedule}`)", ""]
    for b in backbones:
        lines.append(f"- {b['name']}: " + ", ".join(f"{k} {v:.3g}" for k, v in b["firing_rates"].items()))
    kinds = "; ".join(f"{p}: {', '.join(backbones[0]['energy_j'][p]['kinds'])}" for p in profiles)
    lines += ["", f"Kinds of number each profile rests on: {kinds}.", ""]
    chips = [p for p in profiles if _has_fit(backbones, p)]
    if chips:
        lines += ["## Fit (cores and chips)", ""]
        lines += _table(
            ["backbone", "profile", "cores", "chips", "weight bits", "weights fit", "synapse-bound layers"],
            [[b["name"], p, str(b["fit"][p]["cores"]), str(b["fit"][p]["chips"]),
              str(b["fit"][p]["weight_bits"]), "yes" if b["fit"][p]["weights_fit"] else "**no**",
              ", ".join(k for k, v in b["fit"][p]["limited_by"].items() if v == "synapses") or "—"]
             for b in backbones for p in chips])
        lines.append("")
    lines += ["## Conclusion: break-even firing rates", "", *_conclusion(backbones), "",
              "## Figures", "", *(f"![{name[:-4]}]({name})" for name in FIGURES), "",
              "## How the numbers are counted", "", ASSUMPTIONS, "", "## Profiles and sources", ""]
    for name, prof in profiles.items():
        lines += [f"### {name} ({prof['file']})", "", prof["description"], ""]
        lines += _table(["field", "value", "unit", "kind", "bound", "source"],
                        [[k, f"{q['value']:g}", q["unit"], q["kind"], q["bound"],
                          q["source"] + (f" — {q['note']}" if q["note"] else "")]
                         for k, q in prof["quantities"].items()])
        lines.append("")
    return "\n".join(lines)
