"""The grid's result files as one table, mean ± std over seeds: results.json, results.md, results.png.

Only result files are read (never the grid definition), so a table can be built from whatever runs exist,
filled by several sessions. The std is the sample standard deviation over seeds (ddof=1; 0 for one seed).
Comparisons are paired by seed with a 95 % t interval (paired.py): each method against each baseline, each
ablation variant against its method's full run; a verdict says win, loss or no significant difference
only as the interval allows. Recipe-search runs (no test score) get their own table of validation accuracy.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from tmkt_common.atomic import atomic_write

from .grid import BASELINES, FULL, RESULT, STUDIES, STUDY_EVIDENCE_FRACTIONS, STUDY_FRACTIONS, STUDY_RECIPE
from .paired import LEVEL, paired_difference

# table columns: key in a result → label; accuracies are shown in %, energy in µJ
METRICS = {"float_acc": "float acc %", "float_top5": "float top-5 %", "deployed_acc": "deployed acc %",
           "spikes_per_sample": "spikes/sample", "energy_uj": "loihi2 µJ/inference"}
KEYS = ("backbone", "method", "variant", "dvs_fraction")
COMPARED = "deployed_acc"  # what the paired differences compare (the chip's accuracy, in points)
LINE_STUDIES = (STUDY_FRACTIONS, STUDY_EVIDENCE_FRACTIONS)  # plotted over the DVS share


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


def seed_stats(values: list[float]) -> dict[str, float | None]:
    """Mean and std over seeds; None for both where a seed lacks the value (results.json stays valid JSON)."""
    arr = np.asarray(values, dtype=float)
    if np.isnan(arr).any():
        return {"mean": None, "std": None}
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0}


def _groups(results: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(r["group"], []).append(r)
    return groups


def tested(results: list[dict]) -> list[dict]:
    """The runs that were deployed and tested (a recipe search's runs are not)."""
    return [r for r in results if "accuracy" in r]


def summarize(results: list[dict]) -> list[dict]:
    """One row per group (a run without its seed) of tested runs: the metrics' mean and std over seeds."""
    groups = _groups(tested(results))
    rows = []
    for group, runs in groups.items():
        first = runs[0]
        values = [_values(r) for r in runs]
        rows.append({"group": group, **{k: first[k] for k in KEYS},
                     "studies": sorted({s for r in runs for s in r["studies"]}),
                     "seeds": sorted(r["seed"] for r in runs), "epochs": sorted({r["epochs"] for r in runs}),
                     "steps": sorted({r["settings"].get("steps", 0) for r in runs}),
                     "chosen_epochs": sorted(r["selection"]["epoch"] + 1 for r in runs if "selection" in r),
                     "hardware": sorted({r["hardware"]["name"] for r in runs}),
                     "lava": sorted({r["check"]["lava"] for r in runs}),
                     **{k: seed_stats([v[k] for v in values]) for k in METRICS}})
    return sorted(rows, key=lambda row: tuple(row[k] for k in KEYS))


def mean_std(stat: dict[str, float | None], digits: int) -> str:
    if stat["mean"] is None:
        return "n/a"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def section_rows(rows: list[dict], study: str) -> list[dict]:
    return [row for row in rows if study in row["studies"]]


def comparisons(results: list[dict]) -> list[dict]:
    """Paired differences of deployed accuracy (points) per seed: every full-variant method against each
    baseline at the same backbone and DVS share (a baseline only against the ones before it in BASELINES),
    every other variant against its method's full run."""
    per_seed = {key: {r["seed"]: _values(r)[COMPARED] for r in runs}
                for key, runs in ((tuple(runs[0][k] for k in KEYS), runs)
                                  for runs in _groups(tested(results)).values())}
    out = []
    for (backbone, method, variant, fraction), values in sorted(per_seed.items()):
        earlier = BASELINES[:BASELINES.index(method)] if method in BASELINES else BASELINES
        refs = [(m, FULL) for m in earlier] if variant == FULL else [(method, FULL)]
        for ref_method, ref_variant in refs:
            ref = per_seed.get((backbone, ref_method, ref_variant, fraction))
            diff = paired_difference(values, ref) if ref is not None else None
            if diff is not None:
                out.append({"backbone": backbone, "method": method, "variant": variant,
                            "dvs_fraction": fraction, "against": f"{ref_method}" if variant == FULL else
                            f"{ref_method} {ref_variant}", **diff})
    return out


def verdict_line(c: dict) -> str:
    who = c["method"] if c["variant"] == FULL else f"{c['method']} {c['variant']}"
    return (f"{c['backbone']} at {c['dvs_fraction'] * 100:g} % DVS, {who} vs {c['against']}: "
            f"{c['mean']:+.1f} points [{c['low']:+.1f}, {c['high']:+.1f}] (n = {c['n']}): {c['verdict']}")


def recipe_rows(results: list[dict]) -> list[dict]:
    """One row per recipe-search group: validation accuracy of the chosen epoch under both readouts."""
    rows = []
    for group, runs in _groups([r for r in results if STUDY_RECIPE in r["studies"]]).items():
        sel = [r["selection"] for r in runs]
        rows.append({"group": group, **{k: runs[0][k] for k in KEYS},
                     "seeds": sorted(r["seed"] for r in runs),
                     "steps": sorted({r["settings"]["steps"] for r in runs}),
                     "chosen_epochs": sorted(s["epoch"] + 1 for s in sel),
                     **{f"val_{r}": seed_stats([100 * s[f"val_acc_{r}"] for s in sel])
                        for r in ("spikes", "current")}})
    return sorted(rows, key=lambda row: tuple(row[k] for k in KEYS))


def recipe_choice(rows: list[dict]) -> list[str]:
    """Per backbone, the recipe with the highest spike-count validation accuracy (the readout the chip
    reports and the deployed check scores), averaged over the searched methods and seeds: what the search
    picks. A candidate a method does not run (separate heads for a single-stream method, which has one head)
    counts as that method's `base` score, so every candidate is averaged over the same methods."""
    scores: dict[str, dict[str, dict[str, dict]]] = {}
    for r in rows:
        scores.setdefault(r["backbone"], {}).setdefault(r["variant"], {})[r["method"]] = r
    lines = []
    for backbone, variants in sorted(scores.items()):
        methods = sorted({m for v in variants.values() for m in v})
        base = variants.get("recipe-base", {})
        mean = {variant: float(np.mean([(runs.get(m) or base[m])["val_spikes"]["mean"] for m in methods]))
                for variant, runs in variants.items() if all(m in runs or m in base for m in methods)}
        best = max(mean, key=mean.get)
        lines.append(f"{backbone}: {best.removeprefix('recipe-')} (mean validation accuracy over "
                     f"{', '.join(methods)}: {mean[best]:.1f} %; base: "
                     f"{mean.get('recipe-base', float('nan')):.1f} %)")
    return lines


def render_markdown(rows: list[dict], compared: list[dict] | None = None,
                    recipes: list[dict] | None = None) -> str:
    """The tables a person reads: the recipe search, one per study, the paired differences, the verdicts."""
    compared, recipes = compared or [], recipes or []
    header = ["backbone", "method", "variant", "DVS %", "seeds", "epochs", "steps", *METRICS.values()]
    out = ["# TMKT vs baselines on ndigits (mean ± std over seeds)", ""]
    if recipes:
        out += ["## Recipe search (validation accuracy of the best validation epoch; never tested)", "",
                "| backbone | method | recipe | seeds | steps | chosen epochs | val acc % (spike count) | "
                "val acc % (output current) |", "|" + "---|" * 8]
        out += [f"| {r['backbone']} | {r['method']} | {r['variant'].removeprefix('recipe-')} | "
                f"{','.join(map(str, r['seeds']))} | {','.join(map(str, r['steps']))} | "
                f"{','.join(map(str, r['chosen_epochs']))} | {mean_std(r['val_spikes'], 1)} | "
                f"{mean_std(r['val_current'], 1)} |" for r in recipes]
        out += ["", "Chosen per backbone (spike-count readout: what the chip reports and the deployed check "
                "scores):", "",
                *(f"- {line}" for line in recipe_choice(recipes)), ""]
    for study, title in STUDIES.items():
        chosen = section_rows(rows, study)
        if not chosen:
            continue
        out += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in chosen:
            cells = [r["backbone"], r["method"], r["variant"], f"{r['dvs_fraction'] * 100:g}",
                     ",".join(map(str, r["seeds"])), ",".join(map(str, r["epochs"])),
                     ",".join(str(s) if s else "–" for s in r["steps"]),
                     mean_std(r["float_acc"], 1), mean_std(r["float_top5"], 1),
                     mean_std(r["deployed_acc"], 1), mean_std(r["spikes_per_sample"], 0),
                     mean_std(r["energy_uj"], 2)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    if compared:
        out += [f"## Paired differences of deployed accuracy (points; {LEVEL:.0%} CI, Student t over seeds)",
                "", "| backbone | DVS % | method | variant | vs | seeds | per-seed differences | mean | "
                f"{LEVEL:.0%} CI | verdict |", "|" + "---|" * 10]
        out += [f"| {c['backbone']} | {c['dvs_fraction'] * 100:g} | {c['method']} | {c['variant']} | "
                f"{c['against']} | {','.join(map(str, c['seeds']))} | "
                f"{', '.join(f'{d:+.1f}' for d in c['diffs'])} | {c['mean']:+.1f} | "
                f"[{c['low']:+.1f}, {c['high']:+.1f}] | {c['verdict']} |" for c in compared]
        out.append("")
    hardware = ", ".join(sorted({h for r in rows for h in r["hardware"]}))
    lava = ", ".join(sorted({x for r in rows for x in r["lava"]}))
    verdicts = [verdict_line(c) for c in compared if c["method"] == "tmkt"] or [
        "no TMKT run has a baseline with two or more common seeds yet"]
    out += ["## TMKT: what the intervals allow", "", *(f"- {line}" for line in verdicts), "",
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
        if study in LINE_STUDIES:
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
            labels = [f"{r['backbone']}\n{r['method'] if r['variant'] == FULL else r['variant']}"
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
        table.add_row(r["group"], str(len(r["seeds"])), mean_std(r["float_acc"], 1),
                      mean_std(r["float_top5"], 1), mean_std(r["deployed_acc"], 1),
                      mean_std(r["spikes_per_sample"], 0), mean_std(r["energy_uj"], 2))
    return table


def write_table(out_dir: str | os.PathLike) -> list[dict]:
    """OUT/results.json, .md and .png from OUT/runs/*/result.json (all rendered first, then written)."""
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    rows, compared, recipes = summarize(results), comparisons(results), recipe_rows(results)
    doc = {"format": "tmkt-sweep-table", "version": 2, "rows": rows, "paired": compared, "recipe": recipes}
    files = {"results.json": json.dumps(doc, indent=1),
             "results.md": render_markdown(rows, compared, recipes)}
    if rows:
        files["results.png"] = render_png(rows)
    for name, data in files.items():
        with atomic_write(out_dir / name, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
    return rows
