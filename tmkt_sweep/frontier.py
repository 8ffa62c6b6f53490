"""The `energy` grid's table: deployed accuracy vs energy per inference on each profile, per backbone.

Reads only OUT/runs/*/result.json (as `table` does). Per backbone and budget (mean ± std over seeds):
deployed accuracy (the bit-exact emulator on the whole test set) and µJ per inference on each chip profile
(the report's `isolated` schedule, the one Lava runs; `streaming` is in results.json); the ANN profiles are
reference lines (their energy does not depend on spikes); Pareto points (no other point of the backbone is
both cheaper and more accurate) are marked. The verdict per backbone is issue 15's goal: a budget with
≤ 50 % of the Loihi 2 energy at ≤ 1 point lower deployed accuracy, against the same fine-tune without the
energy term (equal training) where the grid has it.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from tmkt_common.atomic import atomic_write

from .grid import FINETUNE_ONLY
from .paired import paired_difference
from .table import load_results, mean_std, seed_stats

CHIPS = ("loihi2", "loihi1", "snn-45nm-paper")
ANNS = ("ann-45nm", "ann-int8-45nm")
SCHEDULE = "isolated"
GOAL_ENERGY, GOAL_POINTS = 0.5, 1.0


def frontier_rows(results: list[dict]) -> list[dict]:
    """One row per (backbone, budget): accuracy and energy per profile over its seeds, Pareto flags."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        if r.get("budget_fraction") is not None:
            groups.setdefault(r["group"], []).append(r)
    rows = []
    for group, runs in sorted(groups.items()):
        first = runs[0]
        energy = {p: seed_stats([1e6 * r["energy_by_profile_j"][p][SCHEDULE] for r in runs])
                  for p in (*CHIPS, *ANNS) if p in first["energy_by_profile_j"]}
        rows.append({"group": group, "backbone": first["backbone"], "budget": first["budget_fraction"],
                     "seeds": sorted(r["seed"] for r in runs), "epochs": first["epochs"],
                     "deployed_acc": seed_stats([100 * r["accuracy"]["deployed"] for r in runs]),
                     "exact": all(r["check"]["exact"] for r in runs),
                     "train_energy_uj": seed_stats([r["train_energy_uj"] for r in runs]),
                     "energy_uj": energy})
    for row in rows:
        peers = [r for r in rows if r["backbone"] == row["backbone"]]
        row["pareto"] = {p: not any(_dominates(o, row, p) for o in peers) for p in row["energy_uj"]
                         if p in CHIPS}
        for base, budget in (("free", 0.0), ("ft", FINETUNE_ONLY)):
            base_runs = next((groups[r["group"]] for r in peers if r["budget"] == budget), None)
            if row["budget"] not in (0.0, budget) and base_runs is not None:
                row.setdefault("vs", {})[base] = _paired(groups[row["group"]], base_runs)
    return rows


def _paired(runs: list[dict], base: list[dict]) -> dict:
    """Per seed against the same seed's run of `base` (the unregularised run a budgeted run fine-tunes, or
    that fine-tune without the energy term): the deployed-accuracy difference in points with its 95 % t
    interval, and the Loihi 2 energy ratio."""
    def by_seed(group: list[dict], value) -> dict[int, float]:
        return {r["seed"]: value(r) for r in group}

    def acc(r: dict) -> float:
        return 100 * r["accuracy"]["deployed"]

    def energy(r: dict) -> float:
        return r["energy_by_profile_j"]["loihi2"][SCHEDULE]

    mine, theirs = by_seed(runs, energy), by_seed(base, energy)
    ratios = [mine[s] / theirs[s] for s in sorted(mine.keys() & theirs.keys())]
    return {"acc": paired_difference(by_seed(runs, acc), by_seed(base, acc)),
            "loihi2_ratio": seed_stats(ratios) if ratios else None}


def _dominates(a: dict, b: dict, profile: str) -> bool:
    ea, eb = a["energy_uj"][profile]["mean"], b["energy_uj"][profile]["mean"]
    aa, ab = a["deployed_acc"]["mean"], b["deployed_acc"]["mean"]
    return ea <= eb and aa >= ab and (ea < eb or aa > ab)


def _loihi2(row: dict) -> float:
    return row["energy_uj"]["loihi2"]["mean"]


def budget_label(budget: float) -> str:
    return "fine-tune only" if budget == FINETUNE_ONLY else f"{budget:g}"


def verdicts(rows: list[dict]) -> list[str]:
    """Per backbone: whether some budget reaches ≤ 50 % of the Loihi 2 energy within 1 point of accuracy,
    against the fine-tune without the energy term (equal training) and against the unregularised run,
    with the paired interval of that comparison; and whether the chip beats an ANN."""
    loihi2, lines = _loihi2, []
    for backbone in sorted({r["backbone"] for r in rows}):
        mine = [r for r in rows if r["backbone"] == backbone]
        bases = [(r, key) for budget, key in ((FINETUNE_ONLY, "ft"), (0.0, "free"))
                 for r in mine if r["budget"] == budget]
        if not bases:
            lines.append(f"- {backbone}: no unregularised run, no verdict")
            continue
        for base, key in bases:
            e0, a0 = loihi2(base), base["deployed_acc"]["mean"]
            ok = [r for r in mine if r["budget"] not in (0.0, FINETUNE_ONLY)
                  and loihi2(r) <= GOAL_ENERGY * e0 and r["deployed_acc"]["mean"] >= a0 - GOAL_POINTS]
            chosen = min(ok, key=loihi2) if ok else None
            said = f"reached by budget {chosen['budget']:g}" if chosen else "NOT reached"
            if chosen and (paired := chosen.get("vs", {}).get(key, {}).get("acc")):
                said += (f" (paired accuracy change {paired['mean']:+.1f} points, 95 % t interval "
                         f"[{paired['low']:+.1f}, {paired['high']:+.1f}] over {paired['n']} seeds)")
            against = ("the same fine-tune without the energy term (equal training)" if key == "ft"
                       else "the unregularised run")
            lines.append(f"- {backbone}, against {against}, {e0:,.4g} µJ at {a0:.1f} %: goal "
                         f"(≤ {GOAL_ENERGY:.0%} energy, ≥ {a0 - GOAL_POINTS:.1f} %) {said}")
        best, (base, _) = min(mine, key=loihi2), bases[0]
        lines.append(f"  - lowest energy {loihi2(best):,.4g} µJ at {best['deployed_acc']['mean']:.1f} % "
                     f"(budget {budget_label(best['budget'])})")
        for ann in ANNS:
            if ann in base["energy_uj"]:
                e_ann = base["energy_uj"][ann]["mean"]
                said = []
                for chip in (c for c in CHIPS if c in base["energy_uj"]):
                    below = [budget_label(r["budget"]) for r in mine if r["energy_uj"][chip]["mean"] < e_ann]
                    said.append(f"{chip} {f'beats it at budget(s) {below}' if below else 'never beats it'}")
                lines.append(f"  - vs {ann} ({e_ann:,.4g} µJ): " + "; ".join(said))
    return lines


def _interval(paired: dict | None) -> str:
    return f"{paired['mean']:+.1f} [{paired['low']:+.1f}, {paired['high']:+.1f}]" if paired else ""


def render_markdown(rows: list[dict]) -> str:
    chips = [p for p in CHIPS if rows and p in rows[0]["energy_uj"]]
    anns = [p for p in ANNS if rows and p in rows[0]["energy_uj"]]
    header = ["backbone", "budget", "seeds", "epochs", "deployed acc %", "Δ acc vs budget 0 [95 % CI]",
              "Δ acc vs fine-tune only [95 % CI]", "loihi2 energy vs budget 0", "vs fine-tune only",
              "spike-exact",
              *(f"{p} µJ{' *' if p in chips else ''}" for p in (*chips, *anns))]
    lines = ["# Accuracy–energy frontier (TMKT, ndigits 10 % DVS; mean ± std over seeds)", "",
             f"Energy per inference, schedule `{SCHEDULE}` (T + latency steps); budget = fraction of the "
             "same seed's unregularised training-time (streaming) Loihi 2 energy, 0 = unregularised; a "
             "budgeted run fine-tunes that run, and `fine-tune only` is the same fine-tune without the "
             "energy term (equal training); Δ acc (deployed, points) and energy ratios are paired per seed, "
             "with a 95 % Student-t interval. "
             "`*` chip profiles: a bold value is a Pareto point of its backbone on that profile. ANN "
             "columns are reference lines (no spikes).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        vs = r.get("vs", {})
        cells = [r["backbone"], budget_label(r["budget"]), ",".join(map(str, r["seeds"])), str(r["epochs"]),
                 mean_std(r["deployed_acc"], 1),
                 *(_interval(vs.get(base, {}).get("acc")) for base in ("free", "ft")),
                 *(f"{vs[base]['loihi2_ratio']['mean']:.0%}" if vs.get(base, {}).get("loihi2_ratio") else ""
                   for base in ("free", "ft")),
                 "yes" if r["exact"] else "**NO**"]
        for p in (*chips, *anns):
            text = mean_std(r["energy_uj"][p], 3)
            cells.append(f"**{text}**" if r["pareto"].get(p) else text)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Goal (issue 15)", "", *verdicts(rows), ""]
    return "\n".join(lines)


def render_png(rows: list[dict]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chips = [p for p in CHIPS if rows and p in rows[0]["energy_uj"]]
    fig, axes = plt.subplots(1, len(chips), figsize=(5 * len(chips), 4.2), squeeze=False)
    backbones = sorted({r["backbone"] for r in rows})
    for ax, chip in zip(axes[0], chips, strict=True):
        for i, backbone in enumerate(backbones):
            mine = sorted((r for r in rows if r["backbone"] == backbone),
                          key=lambda r: r["energy_uj"][chip]["mean"])
            x = [r["energy_uj"][chip]["mean"] for r in mine]
            y = [r["deployed_acc"]["mean"] for r in mine]
            ax.errorbar(x, y, xerr=[r["energy_uj"][chip]["std"] for r in mine],
                        yerr=[r["deployed_acc"]["std"] for r in mine], fmt="o", color=f"C{i}", label=backbone)
            front = [(xx, yy) for xx, yy, r in zip(x, y, mine, strict=True) if r["pareto"][chip]]
            fx, fy = [p[0] for p in front], [p[1] for p in front]
            ax.plot(fx, fy, "-", color=f"C{i}", alpha=0.6)
            ax.scatter(fx, fy, s=140, facecolors="none", edgecolors="k")
            for ann, style in zip(ANNS, ("--", ":"), strict=True):
                if ann in mine[0]["energy_uj"]:
                    ax.axvline(mine[0]["energy_uj"][ann]["mean"], color=f"C{i}", linestyle=style, alpha=0.7,
                               label=f"{backbone} as {ann}")
        ax.set_xscale("log")
        ax.set_xlabel(f"{chip}: µJ per inference (log)")
        ax.set_ylabel("deployed accuracy %")
        ax.set_title(f"{chip} (rings: Pareto; lines: ANN break-even)", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_frontier(out_dir: str | os.PathLike) -> list[dict]:
    """OUT/results.json, .md and .png of the energy grid (all rendered first, then written)."""
    out_dir = Path(out_dir)
    rows = frontier_rows(load_results(out_dir))
    if not rows:
        raise ValueError(f"{out_dir}: no energy-grid results (runs with a budget) to tabulate")
    files = {"results.json": json.dumps({"format": "tmkt-energy-frontier", "version": 1, "schedule": SCHEDULE,
                                         "rows": rows, "verdicts": verdicts(rows)}, indent=1),
             "results.md": render_markdown(rows), "results.png": render_png(rows)}
    for name, data in files.items():
        with atomic_write(out_dir / name, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
    return rows
