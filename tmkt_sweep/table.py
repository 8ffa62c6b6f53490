"""The grid's result files as one table, mean ± std over seeds: results.json, results.md, results.png.

Only result files are read (never the grid definition), so a table can be built from whatever runs exist,
filled by several sessions. The std is the sample standard deviation over seeds (ddof=1; 0 for one seed).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from tmkt_common.atomic import atomic_write

from .grid import STUDIES, STUDY_FRACTIONS, STUDY_METHODS
from .runner import RESULT

# table columns: key in a result → label; accuracies are shown in %, energy in µJ
METRICS = {"float_acc": "float acc %", "float_top5": "float top-5 %", "deployed_acc": "deployed acc %",
           "spikes_per_sample": "spikes/sample", "energy_uj": "loihi2 µJ/inference"}
KEYS = ("backbone", "method", "variant", "dvs_fraction")


def load_results(out_dir: str | os.PathLike) -> list[dict]:
    """Every OUT/runs/*/result.json, sorted by run name."""
    paths = sorted((Path(out_dir) / "runs").glob(f"*/{RESULT}"))
    if not paths:
        raise FileNotFoundError(f"{Path(out_dir) / 'runs'}: no {RESULT} files yet; run the sweep first")
    results = []
    for path in paths:
        try:
            results.append(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}); delete it to rerun that run") from exc
    return results


def _values(result: dict) -> dict[str, float]:
    acc = result["accuracy"]
    top5 = acc.get("train_eval_top5")  # results from before top-5 was recorded lack it
    return {"float_acc": 100 * acc["float"], "float_top5": 100 * top5 if top5 is not None else float("nan"),
            "deployed_acc": 100 * acc["deployed"],
            "spikes_per_sample": result["spikes_per_sample"], "energy_uj": 1e6 * result["energy_j"]}


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0}


def summarize(results: list[dict]) -> list[dict]:
    """One row per group (a run without its seed): the metrics' mean and std over its seeds."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(r["group"], []).append(r)
    rows = []
    for group, runs in groups.items():
        first = runs[0]
        values = [_values(r) for r in runs]
        rows.append({"group": group, **{k: first[k] for k in KEYS},
                     "studies": sorted({s for r in runs for s in r["studies"]}),
                     "seeds": sorted(r["seed"] for r in runs), "epochs": sorted({r["epochs"] for r in runs}),
                     "hardware": sorted({r["hardware"]["name"] for r in runs}),
                     "lava": sorted({r["check"]["lava"] for r in runs}),
                     **{k: _stats([v[k] for v in values]) for k in METRICS}})
    return sorted(rows, key=lambda row: tuple(row[k] for k in KEYS))


def _cell(stat: dict[str, float], digits: int) -> str:
    if np.isnan(stat["mean"]):
        return "n/a"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def section_rows(rows: list[dict], study: str) -> list[dict]:
    return [row for row in rows if study in row["studies"]]


def tmkt_verdicts(rows: list[dict]) -> list[str]:
    """Where TMKT's mean deployed accuracy beats each baseline at the same setting, and where it does not."""
    lines = []
    full = {(r["backbone"], r["method"], r["dvs_fraction"]): r for r in rows if r["variant"] == "full"}
    for (backbone, method, fraction), row in sorted(full.items(), key=lambda kv: (kv[0][0], kv[0][2])):
        if method == "tmkt":
            continue
        tmkt = full.get((backbone, "tmkt", fraction))
        if tmkt is None:
            continue
        gain = tmkt["deployed_acc"]["mean"] - row["deployed_acc"]["mean"]
        word = "beats" if gain > 0 else "does NOT beat"
        lines.append(f"{backbone} at {fraction * 100:g} % DVS: TMKT {word} {method} "
                     f"({gain:+.1f} points of deployed accuracy; {len(tmkt['seeds'])} vs "
                     f"{len(row['seeds'])} seeds)")
    return lines


def render_markdown(rows: list[dict]) -> str:
    """The tables a person reads: one per study, then the TMKT verdicts."""
    header = ["backbone", "method", "variant", "DVS %", "seeds", "epochs", *METRICS.values()]
    out = ["# TMKT vs baselines on ndigits (mean ± std over seeds)", ""]
    for study, title in STUDIES.items():
        chosen = section_rows(rows, study)
        if not chosen:
            continue
        out += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in chosen:
            cells = [r["backbone"], r["method"], r["variant"], f"{r['dvs_fraction'] * 100:g}",
                     ",".join(map(str, r["seeds"])), ",".join(map(str, r["epochs"])),
                     _cell(r["float_acc"], 1), _cell(r["float_top5"], 1), _cell(r["deployed_acc"], 1),
                     _cell(r["spikes_per_sample"], 0), _cell(r["energy_uj"], 2)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    hardware = ", ".join(sorted({h for r in rows for h in r["hardware"]}))
    lava = ", ".join(sorted({x for r in rows for x in r["lava"]}))
    verdicts = tmkt_verdicts(rows) or ["no TMKT run has a baseline at the same setting yet"]
    out += ["## Where TMKT wins", "", *(f"- {line}" for line in verdicts), "",
            f"Hardware: {hardware}. Lava fixed_pt check: {lava} (reasons in each run's result.json). "
            "Deployed accuracy = the bit-exact Loihi 2 emulator over the whole test set; energy from spike "
            "counts with hw_profiles/loihi2.toml.", ""]
    return "\n".join(out)


def render_png(rows: list[dict]) -> bytes:
    """Deployed accuracy (mean ± std) per study, one panel each; panels without runs are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    studies = [s for s in STUDIES if section_rows(rows, s)]
    fig, axes = plt.subplots(1, len(studies), figsize=(5.5 * len(studies), 4), squeeze=False)
    for ax, study in zip(axes[0], studies, strict=True):
        chosen = section_rows(rows, study)
        if study == STUDY_FRACTIONS:
            for method in sorted({r["method"] for r in chosen}):
                line = sorted((r for r in chosen if r["method"] == method), key=lambda r: r["dvs_fraction"])
                ax.errorbar([100 * r["dvs_fraction"] for r in line],
                            [r["deployed_acc"]["mean"] for r in line],
                            yerr=[r["deployed_acc"]["std"] for r in line], marker="o", capsize=3,
                            label=method)
            fractions = sorted({100 * r["dvs_fraction"] for r in chosen})
            ax.set_xscale("log")
            ax.set_xticks(fractions, [f"{f:g}" for f in fractions])
            ax.minorticks_off()
            ax.set_xlabel("DVS training samples kept (%)")
            ax.legend()
        else:
            colors = {m: f"C{i}" for i, m in enumerate(sorted({r["method"] for r in chosen}))}
            labels = [f"{r['backbone']}\n{r['method'] if study == STUDY_METHODS else r['variant']}"
                      for r in chosen]
            ax.bar(range(len(chosen)), [r["deployed_acc"]["mean"] for r in chosen],
                   yerr=[r["deployed_acc"]["std"] for r in chosen], capsize=3,
                   color=[colors[r["method"]] for r in chosen])
            ax.set_xticks(range(len(chosen)), labels, fontsize=7, rotation=45 if len(chosen) > 6 else 0)
        ax.set_title(STUDIES[study], fontsize=9)
        ax.set_ylabel("deployed accuracy (%)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()


def rich_table(rows: list[dict]):
    """The same numbers for the terminal."""
    from rich.table import Table

    table = Table(title="TMKT vs baselines (mean ± std over seeds)")
    for col in ["run group", "seeds", *METRICS.values()]:
        table.add_column(col, justify="left" if col == "run group" else "right")
    for r in rows:
        table.add_row(r["group"], str(len(r["seeds"])), _cell(r["float_acc"], 1), _cell(r["float_top5"], 1),
                      _cell(r["deployed_acc"], 1), _cell(r["spikes_per_sample"], 0), _cell(r["energy_uj"], 2))
    return table


def write_table(out_dir: str | os.PathLike) -> list[dict]:
    """OUT/results.json, .md and .png from OUT/runs/*/result.json (all rendered first, then written)."""
    out_dir = Path(out_dir)
    rows = summarize(load_results(out_dir))
    files = {"results.json": json.dumps({"format": "tmkt-sweep-table", "version": 1, "rows": rows}, indent=1),
             "results.md": render_markdown(rows), "results.png": render_png(rows)}
    for name, data in files.items():
        with atomic_write(out_dir / name, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
    return rows
