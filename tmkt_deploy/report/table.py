"""The report's terminal table (what `tmkt-deploy report`, the sweep and the examples print)."""

from __future__ import annotations

from rich.table import Table


def summary_table(doc: dict) -> Table:
    """Backbones × (accuracy, spikes, synops, µJ per profile, chips) for the terminal."""
    profiles = list(doc["profiles"])
    table = Table(title="energy per inference")
    for col in ["backbone", "deployed acc", "spikes/sample", "synops", "steps",
                *(f"{p} µJ" for p in profiles)]:
        table.add_column(col, justify="left" if col == "backbone" else "right")
    for b in doc["backbones"]:
        acc = b["accuracy"]["deployed"]
        table.add_row(b["name"], "—" if acc is None else f"{100 * acc:.2f}%",
                      f"{b['spikes_per_sample']:,.0f}", f"{b['synops']:,.0f}", str(b["latency_steps"]),
                      *(f"{b['energy_j'][p]['total'] * 1e6:.3g}" for p in profiles))
    return table
