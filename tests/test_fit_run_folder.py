"""`tmkt-train fit` and `eval` on run folders (issue 17): a run is never overwritten unasked, `--resume`
continues the run as recorded and names every option that contradicts it, bad configs and unwritable folders
are one error line with exit 2. A tiny SCNN on 16×16 ndigits (2 samples per class), CPU."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import tomli
from typer.testing import CliRunner

from tmkt_train.checkpoint import CHECKPOINT, read_checkpoint
from tmkt_train.cli import app
from tmkt_train.config import TrainConfig, check_resume
from tmkt_train.train.run_folder import read_metrics

TINY = """seed = 0
[data]
time_steps = 4
size = 16
limit = 2
[model]
width = 0.0625
[optim]
epochs = 1
batch_size = 8
"""


def fit(*args: str):
    return CliRunner().invoke(app, ["fit", "--device", "cpu", *args])


def error_line(result) -> str:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A one-epoch run written by the CLI, and its config file (tiny.toml beside it)."""
    root = tmp_path_factory.mktemp("trained")
    (root / "tiny.toml").write_text(TINY)
    result = fit("--config", str(root / "tiny.toml"), "--out", str(root / "run"))
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def run(trained, tmp_path) -> Path:
    shutil.copytree(trained / "run", tmp_path / "run")
    shutil.copy(trained / "tiny.toml", tmp_path / "tiny.toml")
    return tmp_path / "run"


def test_fit_into_a_run_refuses_and_touches_nothing(run):
    before = snapshot(run)
    line = error_line(fit("--config", str(run.parent / "tiny.toml"), "--out", str(run)))
    assert str(run) in line and "--resume" in line and "--overwrite" in line
    assert snapshot(run) == before


def test_overwrite_replaces_the_run_and_keeps_other_files(run):
    (run / "notes.txt").write_text("mine")
    (run / "eval.json").write_text("{}")
    result = fit("--config", str(run.parent / "tiny.toml"), "--out", str(run), "--overwrite", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert read_checkpoint(run / CHECKPOINT).train.seed == 1
    assert tomli.loads((run / "config.toml").read_text())["seed"] == 1
    assert [m["epoch"] for m in read_metrics(run / "metrics.jsonl")] == [0]
    assert (run / "notes.txt").read_text() == "mine" and not (run / "eval.json").exists()
    assert error_line(fit("--out", str(run), "--resume", "--overwrite")).count("--") >= 2


def test_resume_names_every_contradicting_option_and_changes_nothing(run):
    before = snapshot(run)
    line = error_line(fit("--out", str(run), "--resume", "--seed", "3", "--dvs-fraction", "0.5",
                          "--method", "dvs-only", "--backbone", "vggsnn"))
    for named in ("seed 0 → 3", "data.dvs_fraction 1.0 → 0.5", "method 'tmkt' → 'dvs-only'",
                  "model.backbone 'scnn' → 'vggsnn'"):
        assert named in line
    assert str(run / CHECKPOINT) in line and snapshot(run) == before


def test_resume_without_config_continues_the_recorded_run(run, checkpoint_reads):
    recorded = tomli.loads((run / "config.toml").read_text())
    result = fit("--out", str(run), "--resume", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert checkpoint_reads == [CHECKPOINT]  # read once, handed on (checkpoints can be large)
    assert "size mismatch" not in result.output
    assert [m["epoch"] for m in read_metrics(run / "metrics.jsonl")] == [0, 1]
    now = tomli.loads((run / "config.toml").read_text())
    assert now["optim"].pop("epochs") == 2 and recorded["optim"].pop("epochs") == 1
    assert now == recorded  # nothing else rewritten
    assert len(read_checkpoint(run / CHECKPOINT).history) == 2


def test_what_resume_may_change():
    """More epochs and the data/cache folders and loader workers; not fewer epochs, nor anything else."""
    recorded = TrainConfig()
    changed = TrainConfig()
    changed.optim.epochs += 5
    changed.data.data_dir, changed.data.cache_dir, changed.data.num_workers = "/d", "/c", 4
    check_resume(recorded, changed, "run")
    for edit, named in ((lambda c: setattr(c.optim, "epochs", 9), "optim.epochs 10 → 9"),
                        (lambda c: setattr(c.optim, "batch_size", 16), "optim.batch_size 32 → 16"),
                        (lambda c: c.model.neuron.update(threshold=2.0),
                         "model.neuron {} → {'threshold': 2.0}"),
                        (lambda c: setattr(c.loss, "mag", 0.1), "loss.mag 0.5 → 0.1"),
                        (lambda c: c.loss.max_rates.update({"*": 0.1}), "loss.max_rates {} → {'*': 0.1}")):
        cfg = TrainConfig()
        edit(cfg)
        with pytest.raises(ValueError, match="run: --resume") as caught:
            check_resume(recorded, cfg, "run")
        assert named in str(caught.value)


def test_a_config_value_of_the_wrong_type_names_file_and_key(tmp_path):
    (tmp_path / "bad.toml").write_text('[optim]\nepochs = "3"\n')
    line = error_line(fit("--config", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "run")))
    assert f"{tmp_path / 'bad.toml'} [optim]: epochs must be an integer, got '3'" in line
    assert not (tmp_path / "run").exists()


def test_damaged_run_files_are_one_error_line_naming_them(run):
    (run.parent / "bad.toml").write_text("[optim\n")
    line = error_line(fit("--config", str(run.parent / "bad.toml"), "--out", str(run.parent / "new")))
    assert f"{run.parent / 'bad.toml'}: not valid TOML" in line
    (run / "final.json").write_text("[]")
    line = error_line(CliRunner().invoke(app, ["eval", str(run), "--device", "cpu"]))
    assert f"{run / 'final.json'}: expected a JSON object" in line
    crashed = run.parent / "crashed"  # a run that crashed before its first checkpoint, config.toml damaged
    crashed.mkdir()
    (crashed / "config.toml").write_text("seed = \n")
    line = error_line(fit("--out", str(crashed), "--resume"))
    assert f"{crashed / 'config.toml'}: not valid TOML" in line


def test_out_under_a_file_is_one_error_line(tmp_path):
    (tmp_path / "file").write_text("")
    line = error_line(fit("--out", str(tmp_path / "file" / "run"), "--epochs", "1"))
    assert f"{tmp_path / 'file'} is a file" in line
    line = CliRunner().invoke(app, ["eval", str(tmp_path / "file")])
    assert "no checkpoint here" in error_line(line)


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write: chmod 555, or (root ignores modes) /sys."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    return Path("/sys")


def test_a_read_only_out_is_one_error_line(tmp_path):
    locked = read_only_folder(tmp_path)
    line = error_line(fit("--out", str(locked / "run"), "--epochs", "1"))
    assert f"{locked / 'run'}: cannot write in {locked}" in line
    assert not (locked / "run").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a chmod-555 folder")
def test_eval_of_a_read_only_run_is_one_error_line(run):
    run.chmod(0o555)
    try:
        line = error_line(CliRunner().invoke(app, ["eval", str(run), "--device", "cpu"]))
    finally:
        run.chmod(0o755)
    assert f"cannot write in {run}" in line
