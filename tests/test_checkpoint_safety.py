"""Checkpoints load without running code (issue 17): a crafted pickle given to export, eval and fit --resume
runs nothing; random, truncated and malformed files are one error line naming the file, exit 2; a trusted old
pickle is converted only on request; export takes its data and cache folders from the command line, never
from the checkpoint, and writes nowhere else."""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tmkt_common.errors import CheckpointError
from tmkt_deploy.cli import app as deploy_app
from tmkt_train.checkpoint import CHECKPOINT, Checkpoint, load_model, read_checkpoint, write_checkpoint
from tmkt_train.cli import app as train_app
from tmkt_train.config import DataConfig, ModelConfig, TrainConfig
from tmkt_train.data import forget_stores
from tmkt_train.models import build_model


class Payload:
    """Unpickling this creates `marker`: what a crafted checkpoint would do instead (a shell, a download)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def tiny_checkpoint(path: Path, **fields) -> Checkpoint:
    """A real checkpoint of an untrained tiny SCNN on 16×16 ndigits, T=4, 2 test samples per class."""
    torch.manual_seed(0)
    cfg = TrainConfig(data=DataConfig(time_steps=4, size=16, limit=2),
                      model=ModelConfig(backbone="scnn", width=0.0625))
    model = build_model("scnn", num_classes=10, input_shape=(2, 16, 16), width=0.0625)
    ckpt = Checkpoint(train=cfg, num_classes=10, input_shape=(2, 16, 16), time_steps=4,
                      state_dict=model.state_dict(), class_names=[str(i) for i in range(10)])
    for name, value in fields.items():
        setattr(ckpt, name, value)
    write_checkpoint(path, ckpt)
    return ckpt


def bad_file(kind: str, folder: Path) -> Path:
    """checkpoint.pt in `folder`: a crafted pickle, random bytes, or a real checkpoint cut in half."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT
    if kind == "pickle":
        torch.save({"format": "tmkt-checkpoint", "version": 3, "train": Payload(folder.parent / "ran")}, path)
    elif kind == "random":
        path.write_bytes(random.Random(0).randbytes(4096))
    else:
        tiny_checkpoint(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def one_error_line(result, path: Path) -> str:
    """The CLI's single error line; it must name `path`, and nothing may be a traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception,
                                                                                        SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(path) in errors[0], result.output
    return errors[0]


def invoke(command: str, folder: Path, out: Path):
    if command == "export":
        return CliRunner().invoke(deploy_app, ["export", str(folder / CHECKPOINT), "--out", str(out),
                                               "--lava-samples", "0"])
    if command == "eval":
        return CliRunner().invoke(train_app, ["eval", str(folder), "--device", "cpu"])
    return CliRunner().invoke(train_app, ["fit", "--out", str(folder), "--resume", "--device", "cpu"])


@pytest.mark.parametrize("command", ["export", "eval", "resume"])
@pytest.mark.parametrize("kind", ["pickle", "random", "truncated"])
def test_a_bad_checkpoint_is_one_error_line_and_runs_nothing(tmp_path, command, kind):
    path = bad_file(kind, tmp_path / "run")
    before = path.read_bytes()
    line = one_error_line(invoke(command, tmp_path / "run", tmp_path / "deploy"), path)
    assert not (tmp_path / "ran").exists()  # the payload did not run
    assert not (tmp_path / "deploy").exists() and path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [CHECKPOINT]  # eval/fit wrote nothing
    if kind == "pickle":
        assert "convert-checkpoint" in line and "--trust-pickle" in line
    else:
        assert "not a tmkt checkpoint" in line


def test_convert_checkpoint_unpickles_only_when_asked(tmp_path):
    """A version-2 file pickled with numpy values (refused by the safe reader) converts with --trust-pickle
    into a checkpoint that loads safely, with the same weights."""
    net = build_model("scnn", num_classes=10, input_shape=(2, 16, 16), width=0.0625)
    cfg = TrainConfig(model=ModelConfig(width=0.0625))
    old = tmp_path / "old.pt"
    torch.save({"format": "tmkt-checkpoint", "version": 2, "train": asdict(cfg), "num_classes": 10,
                "input_shape": [2, 16, 16], "time_steps": 4, "state_dict": net.state_dict(),
                "epoch": np.int64(4), "metrics": {"test_acc": np.float64(0.5)}}, old)
    with pytest.raises(CheckpointError, match="convert-checkpoint"):
        read_checkpoint(old)
    refused = CliRunner().invoke(train_app, ["convert-checkpoint", str(old), str(tmp_path / "new.pt")])
    assert "--trust-pickle" in one_error_line(refused, old) and not (tmp_path / "new.pt").exists()
    done = CliRunner().invoke(train_app, ["convert-checkpoint", str(old), str(tmp_path / "new.pt"),
                                          "--trust-pickle"])
    assert done.exit_code == 0, done.output
    model, ckpt = load_model(tmp_path / "new.pt")
    assert ckpt.epoch == 4 and ckpt.train == cfg
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in model.state_dict().items())


def test_the_writer_refuses_what_the_safe_reader_could_not_load(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint.heads.x: a PosixPath cannot be stored"):
        tiny_checkpoint(tmp_path / CHECKPOINT, heads={"x": tmp_path})
    assert not (tmp_path / CHECKPOINT).exists()
    ckpt = tiny_checkpoint(tmp_path / CHECKPOINT, history=[{"epoch": 0, "test_acc": np.float32(0.25)}])
    assert read_checkpoint(tmp_path / CHECKPOINT).history == [{"epoch": 0, "test_acc": 0.25}]
    assert ckpt.epoch == 0


@pytest.mark.parametrize("backbone", [["scnn"], "lenet"])
@pytest.mark.parametrize("command", ["export", "eval"])
def test_a_bad_backbone_entry_is_one_error_line(tmp_path, backbone, command):
    path = tmp_path / "run" / CHECKPOINT
    tiny_checkpoint(path)
    doc = torch.load(path, weights_only=True)
    doc["train"]["model"]["backbone"] = backbone
    torch.save(doc, path)
    line = one_error_line(invoke(command, tmp_path / "run", tmp_path / "deploy"), path)
    assert "backbone" in line


def test_export_reads_and_writes_only_where_the_command_line_says(tmp_path, monkeypatch):
    """The checkpoint names a data and a cache folder of its own; export must use neither (it caches in the
    user's cache) and write nothing outside --out and that cache."""
    monkeypatch.setenv("TMKT_CACHE", str(tmp_path / "user-cache"))
    forget_stores()  # an earlier test's dataset held in memory would skip the disk cache this test inspects
    ckpt = tiny_checkpoint(tmp_path / "run" / CHECKPOINT)
    ckpt.train.data.cache_dir = str(tmp_path / "planted")
    ckpt.train.data.data_dir = str(tmp_path / "elsewhere")
    write_checkpoint(tmp_path / "run" / CHECKPOINT, ckpt)
    before = {p for p in tmp_path.rglob("*")}
    result = invoke("export", tmp_path / "run", tmp_path / "deploy")
    assert result.exit_code == 0, result.output
    new = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in new if not {tmp_path / "deploy", tmp_path / "user-cache"} & {p, *p.parents}]
    assert outside == [] and (tmp_path / "deploy" / "check.json").is_file()
    assert any((tmp_path / "user-cache").iterdir())
