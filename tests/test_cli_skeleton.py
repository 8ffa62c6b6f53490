"""Both console scripts explain the pipeline, and nothing unbuilt pretends to work."""

from __future__ import annotations

from typer.testing import CliRunner

from tmkt_deploy.cli import app as deploy_app
from tmkt_train.cli import app as train_app

runner = CliRunner()


def test_train_help_explains_pipeline():
    result = runner.invoke(train_app, ["--help"])
    assert result.exit_code == 0
    assert "TMKT" in result.output and "checkpoint" in result.output


def test_deploy_help_explains_pipeline():
    result = runner.invoke(deploy_app, ["--help"])
    assert result.exit_code == 0
    assert "Lava" in result.output and "loihi2-sim" in result.output
