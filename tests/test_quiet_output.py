"""Our commands print only our lines (no lava-dl / torch import chatter, no blank progress lines) and their
tables stay whole when the output is piped into a file, as CI logs and `| tee` do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support import write_tiny_checkpoint

from tmkt_common.lavadl import NOISE

ROOT = Path(__file__).resolve().parents[1]
FOREIGN = (*NOISE, "CUDA_HOME", "Prophesee", "WARNING", "Warning", "Traceback")
LONG_NAME = "a-deployment-with-a-rather-long-name"


SCRIPTS = ("import sys; from tmkt_train.cli import app as train; from tmkt_deploy.cli import app as deploy; "
           "from tmkt_sweep.cli import app as sweep; "
           "{'tmkt-train': train, 'tmkt-deploy': deploy, 'tmkt-sweep': sweep}[sys.argv.pop(1)]()")


def _python(code: str, *args: str, verbose: str = "") -> subprocess.CompletedProcess:
    """Python code run as a user runs our scripts, its output captured (not a terminal)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMKT_VERBOSE", "COLUMNS")}
    env.update(PYTHONPATH=str(ROOT), TMKT_VERBOSE=verbose)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=600)


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    """A console script (tmkt-train / tmkt-deploy) with `args`."""
    return _python(SCRIPTS, script, *args)


def _ours_only(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr
    for line in (result.stdout + result.stderr).splitlines():
        assert not any(word in line for word in FOREIGN), line
    assert result.stderr.strip() == "", result.stderr
    assert not result.stdout.startswith("\n"), "blank progress-bar lines before our output"


@pytest.mark.parametrize("script", ["tmkt-train", "tmkt-deploy", "tmkt-sweep"])
def test_help_is_only_ours(script):
    result = _run(script, "--help")
    _ours_only(result)
    assert "--verbose" in result.stdout or script == "tmkt-sweep"  # one command: TMKT_VERBOSE=1 there


def test_real_commands_print_only_ours_and_whole_tables(tmp_path):
    ckpt = tmp_path / LONG_NAME / "checkpoint.pt"
    ckpt.parent.mkdir()
    write_tiny_checkpoint(ckpt)
    _ours_only(_run("tmkt-train", "datasets", "ndigits"))
    deploy = tmp_path / "deploy"
    export = _run("tmkt-deploy", "export", str(ckpt), "--target", "nir", "--samples", "2",
                  "--out", str(deploy))
    _ours_only(export)  # imports lava-dl (the model) and nir
    assert "spike check on nir" in export.stdout and "emulator vs quantized" in export.stdout
    assert "…" not in export.stdout  # no column squeezed
    report = _run("tmkt-deploy", "report", str(deploy), "--out", str(tmp_path / "report"))
    _ours_only(report)
    doc = json.loads((tmp_path / "report" / "report.json").read_text())
    backbone = doc["backbones"][0]
    assert backbone["name"] == LONG_NAME and LONG_NAME in report.stdout  # names whole, not 'a-deploy…'
    for number in (backbone["synops"], backbone["spikes_per_sample"]):
        assert f"{number:,.0f}" in report.stdout
    assert all(f"{p} µJ" in report.stdout for p in doc["profiles"]) and "…" not in report.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch prints the line only where CUDA is absent")
def test_verbose_shows_the_import_messages():
    # torch prints this line while lava-dl loads its CUDA extension builder on a machine without CUDA (CI's);
    # lava-dl's Prophesee warning no longer appears at all: its object-detection package is deferred.
    shown = _python("import tmkt_train.lavadl", verbose="1")
    assert shown.returncode == 0 and "No CUDA runtime is found" in shown.stdout + shown.stderr
    quiet = _python("import tmkt_train.lavadl", verbose="0")
    assert quiet.returncode == 0 and quiet.stdout == "" and "CUDA_HOME" not in quiet.stderr
