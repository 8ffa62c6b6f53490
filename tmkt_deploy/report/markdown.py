"""`report.md`: the report document as Markdown tables, with the figures and every number's source."""

from __future__ import annotations

from tmkt_deploy.report.plots import FIGURES

ASSUMPTIONS = """\
- Per inference = one sample of T frames; the chip runs T + latency steps (latency = one step per layer).
- Synaptic ops = spikes x exact structural fan-out per source neuron (conv borders, stride, groups counted;
  zero weights included). Spike counts are means over the checked samples.
- Neuron updates: every neuron every step; a step in which the neuron spikes is charged as an active update.
- Spikes routed: one message per spike per consuming layer, within-tile energy plus `mean_hops` tile hops.
- Static energy: `static_energy_per_chip_step` x chips x steps; 0 in the shipped profiles (not published),
  so neuromorphic totals are dynamic energy only.
- ANN equivalent: one dense forward pass; learned weights cost a MAC each, sum-pool and identity synapses an
  accumulate; arithmetic only (no memory traffic), a lower bound for a real GPU.
- Cores: each layer on its own cores, by neurons or by dense synapse memory at the network's weight bits,
  whichever needs more (no conv weight sharing: an upper bound for conv layers).
- lava-dl netx imports run freely for the input's T steps (netx's run, no flush steps). Their counts are
  messages: a layer's nonzero outputs. Sigma-delta and graded (messageBits) layers send a payload with each
  message (`payload_bits` in report.json); each message is charged as one spike message plus one synaptic
  op per connection, as Loihi 2 carries the payload (up to 24 bits) in the message; no per-bit energy is
  published, so payload size is reported, not priced.
- Loihi 2 per-op energies are not published by Intel; the profile uses Loihi 1's as an upper-bound proxy
  (kind `estimated`). Check each figure's kind below before quoting a result."""


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


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
    lines += ["", "## Energy per inference (µJ)", ""]
    lines += _table(["backbone", *profiles],
                    [[b["name"], *(f"{b['energy_j'][p]['total'] * 1e6:.3g}" for p in profiles)]
                     for b in backbones])
    kinds = "; ".join(f"{p}: {', '.join(backbones[0]['energy_j'][p]['kinds'])}" for p in profiles)
    lines += ["", f"Kinds of number each profile rests on: {kinds}.", ""]
    chips = [p for p in profiles if profiles[p]["model"] == "neuromorphic"]
    if chips:
        lines += ["## Fit (cores and chips)", ""]
        lines += _table(
            ["backbone", "profile", "cores", "chips", "weight bits", "weights fit", "synapse-bound layers"],
            [[b["name"], p, str(b["fit"][p]["cores"]), str(b["fit"][p]["chips"]),
              str(b["fit"][p]["weight_bits"]), "yes" if b["fit"][p]["weights_fit"] else "**no**",
              ", ".join(k for k, v in b["fit"][p]["limited_by"].items() if v == "synapses") or "—"]
             for b in backbones for p in chips])
        lines.append("")
    lines += ["## Figures", "", *(f"![{name[:-4]}]({name})" for name in FIGURES), "",
              "## How the numbers are counted", "", ASSUMPTIONS, "", "## Profiles and sources", ""]
    for name, prof in profiles.items():
        lines += [f"### {name} ({prof['file']})", "", prof["description"], ""]
        lines += _table(["field", "value", "unit", "kind", "source"],
                        [[k, f"{q['value']:g}", q["unit"], q["kind"],
                          q["source"] + (f" — {q['note']}" if q["note"] else "")]
                         for k, q in prof["quantities"].items()])
        lines.append("")
    return "\n".join(lines)
