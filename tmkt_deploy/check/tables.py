"""The check's terminal tables (what `tmkt-deploy export` / `run` print)."""

from __future__ import annotations

from rich.table import Table

from .compare import CheckResult


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def check_tables(result: CheckResult) -> list[Table]:
    """A short human summary of a CheckResult: the comparisons, then the accuracies."""
    verdict = "[green]exact[/]" if result.exact else f"[red]MISMATCH[/] (first at {result.first_mismatch})"
    if "nir_client_error" in result.files:
        verdict = f"[red]not run[/] ({result.files['nir_client_error']})"
    comparisons = Table(title=f"spike check on {result.target}: {verdict}")
    for col in ("comparison", "samples", "all spikes equal", "output spikes equal", "same class",
                "first mismatch"):
        first = col == "comparison"
        comparisons.add_column(col, justify="left" if first else "right", no_wrap=first)
    for name, c in result.comparisons.items():
        where = c.first_mismatch_layer or ("—" if c.exact else "output")
        comparisons.add_row(name.replace("_", " "), str(c.samples), _pct(c.spike_agreement),
                            _pct(c.output_spike_agreement), _pct(c.prediction_agreement), where)
    acc = result.accuracy
    accuracies = Table(title=f"accuracy (latency {result.latency} steps)")
    columns = [("float", result.samples), ("quantized", result.samples), ("deployed", result.samples),
               ("lava", result.lava_samples)]
    for key, n in columns:
        accuracies.add_column(f"{key} ({n} samples)", justify="right")
    accuracies.add_row(*(_pct(acc.get(key)) for key, _ in columns))
    return [comparisons, accuracies]
