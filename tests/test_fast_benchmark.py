"""Smoke test of `benchmarks/train_throughput.py --small`: it runs on CPU and its exactness check is clean."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import support
import typer
from typer.testing import CliRunner

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"


@pytest.fixture(scope="module")
def benchmark_cli() -> Iterator[typer.Typer]:
    """The benchmark's `main` as a typer app, loaded in-process."""
    with support.script_app(SCRIPT) as app:
        yield app


def test_train_throughput_small_runs_one_step_and_reports(benchmark_cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    args = ["--small", "--check", "--steps", "1", "--warmup", "0",
            "--trainers", "fast,slayer,snntorch,spikingjelly,fast-spikingnet", "--json-out", str(out)]
    result = CliRunner().invoke(benchmark_cli, args)
    assert result.exit_code == 0, result.output
    (run,) = json.loads(out.read_text())["runs"]
    results = {r["trainer"]: r for r in run["results"]}
    for name in ("fast", "slayer", "snntorch", "fast-spikingnet"):
        assert results[name]["samples_per_s"] > 0, name
    assert results["spikingjelly"]["samples_per_s"] or results["spikingjelly"]["note"].startswith("skipped")
    assert not any(run["exactness"]["chain"]["fast_vs_slayer_cpu_mismatches"])
    assert run["exactness"]["spikingnet"]["output_spike_mismatches"] == 0
    assert "fast" in result.output and "samples/s" in result.output


def test_train_throughput_rejects_unknown_trainer(benchmark_cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "never.json"
    result = CliRunner().invoke(benchmark_cli, ["--small", "--trainers", "nope", "--json-out", str(out)])
    assert result.exit_code != 0
    assert "nope" in result.output
    assert not out.exists()
