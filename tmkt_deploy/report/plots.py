"""The report's figures, drawn from `report.json` with matplotlib (Agg) and returned as PNG bytes.

Returned as bytes, not written, so the report writer can put every file in place only after all of them
rendered (no half-written report directory).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ACCURACY_ORDER = ("deployed", "quantized", "float")
MARKERS = "osD^v<>pP*X"


def best_accuracy(backbone: dict) -> tuple[str, float] | None:
    """The accuracy closest to the chip (deployed, else quantized, else float); None if none was checked."""
    for key in ACCURACY_ORDER:
        if backbone["accuracy"].get(key) is not None:
            return key, backbone["accuracy"][key]
    return None


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()


def accuracy_vs_energy(report: dict) -> bytes:
    """One point per backbone and chip profile: energy per inference (log x) against its best-checked
    accuracy; each ANN profile's energy is a vertical break-even line (the chip wins left of it)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    profiles = report["profiles"]
    for i, backbone in enumerate(report["backbones"]):
        acc = best_accuracy(backbone)
        if acc is None:
            continue
        for j, name in enumerate(profiles):
            energy = backbone["energy_j"][name]["total"] * 1e6
            if profiles[name]["model"] == "ann":
                ax.axvline(energy, color=f"C{i}", linestyle=("--", ":", "-.")[j % 3], alpha=0.7,
                           label=f"break-even: {backbone['name']} as {name}")
                continue
            ax.scatter(energy, acc[1] * 100, color=f"C{i}", marker=MARKERS[j % len(MARKERS)], s=60,
                       label=f"{backbone['name']} · {name} ({acc[0]})")
    ax.set_xscale("log")
    ax.set_xlabel("energy per inference (µJ, log)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy vs energy per backbone and chip")
    if ax.collections or ax.lines:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no checked accuracies (netx inputs only)", ha="center", transform=ax.transAxes)
    ax.grid(True, which="both", alpha=0.3)
    return _png(fig)


def spikes_per_layer(report: dict) -> bytes:
    """Mean spikes per sample of every layer, one panel per backbone (layers differ between backbones)."""
    backbones = report["backbones"]
    fig, axes = plt.subplots(len(backbones), 1, figsize=(7, 2.6 * len(backbones)), squeeze=False)
    for ax, backbone in zip(axes[:, 0], backbones, strict=True):
        layers = {"input": backbone["input_events"], **backbone["spikes_per_layer"]}
        ax.bar(range(len(layers)), list(layers.values()), color="C0")
        ax.set_xticks(range(len(layers)), list(layers), rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("spikes / sample")
        ax.set_title(backbone["name"], fontsize=9)
    return _png(fig)


def energy_breakdown(report: dict) -> bytes:
    """Stacked energy parts per backbone, one panel per profile (scales differ by orders of magnitude)."""
    profiles = list(report["profiles"])
    backbones = report["backbones"]
    fig, axes = plt.subplots(1, len(profiles), figsize=(4 * len(profiles), 4), squeeze=False)
    for ax, name in zip(axes[0], profiles, strict=True):
        parts = list(backbones[0]["energy_j"][name]["breakdown"])
        bottom = [0.0] * len(backbones)
        for k, part in enumerate(parts):
            values = [b["energy_j"][name]["breakdown"][part] * 1e6 for b in backbones]
            ax.bar(range(len(backbones)), values, bottom=bottom, label=part, color=f"C{k}")
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(range(len(backbones)), [b["name"] for b in backbones], rotation=30, ha="right",
                      fontsize=8)
        ax.set_ylabel("µJ per inference")
        ax.set_title(name)
        ax.legend(fontsize=7)
    return _png(fig)


FIGURES = {
    "accuracy_vs_energy.png": accuracy_vs_energy,
    "spikes_per_layer.png": spikes_per_layer,
    "energy_breakdown.png": energy_breakdown,
}
