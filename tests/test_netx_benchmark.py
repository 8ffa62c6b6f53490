"""Smoke test of `benchmarks/netx_emulator.py` at a tiny size: its three Lava runs and emulator calls complete
and every row is bit-exact (the script exits 1 otherwise)."""

from __future__ import annotations

from pathlib import Path

import support
from typer.testing import CliRunner

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "netx_emulator.py"


def test_netx_benchmark_tiny_is_bit_exact() -> None:
    with support.script_app(SCRIPT) as app:
        result = CliRunner().invoke(app, ["--size", "8", "--steps", "4", "--samples", "3",
                                          "--lava-samples", "2", "--repeats", "1"])
    assert result.exit_code == 0, result.output
    assert "sdnn-conv" in result.output and "differs" not in result.output
