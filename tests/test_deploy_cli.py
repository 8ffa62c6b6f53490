"""`tmkt-deploy export` / `run` end to end on a tiny SCNN checkpoint and real ndigits test samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tmkt_deploy.cli import app
from tmkt_deploy.ir import Network
from tmkt_train.checkpoint import Checkpoint, write_checkpoint
from tmkt_train.config import DataConfig, ModelConfig, TrainConfig
from tmkt_train.models import build_model

runner = CliRunner()
STEPS = 5
LAYERS = ["conv1", "pool1", "conv2", "pool2", "fc1", "out"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("scnn", num_classes=10, input_shape=(2, 16, 16), width=0.0625)
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    train = TrainConfig(data=DataConfig(time_steps=STEPS, size=16), model=ModelConfig(width=0.0625))
    write_checkpoint(path, Checkpoint(train=train, num_classes=10, input_shape=(2, 16, 16), time_steps=STEPS,
                                      state_dict=model.state_dict(), class_names=[str(i) for i in range(10)]))
    return path


@pytest.mark.lava
def test_export_then_run_is_exact(checkpoint, tmp_path):
    """Lava on 2 samples, the emulator on 4, all spike-exact; `run` reproduces the same check."""
    out = tmp_path / "deploy"
    result = runner.invoke(app, ["export", str(checkpoint), "--target", "loihi2-sim", "--out", str(out),
                                 "--samples", "4", "--lava-samples", "2", "--strict"])
    assert result.exit_code == 0, result.stderr + result.stdout
    assert "exact" in result.stdout and "emulator vs lava" in result.stdout
    for name in ("ir/network.json", "ir/weights.npz", "network.net", "samples.npz", "check.json",
                 "spikes.json"):
        assert (out / name).is_file(), name
    check = json.loads((out / "check.json").read_text())
    assert check["exact"] and check["samples"] == 4 and check["lava_samples"] == 2
    comparisons = check["comparisons"]
    assert {k: v["samples"] for k, v in comparisons.items()} == {
        "emulator_vs_quantized": 4, "lava_vs_quantized": 2, "emulator_vs_lava": 2}
    assert all(c["exact"] and c["spike_agreement"] == 1.0 for c in comparisons.values())
    assert comparisons["lava_vs_quantized"]["layers"] == LAYERS
    acc = check["accuracy"]
    assert acc["deployed"] == acc["quantized"] and check["agreement"] == 1.0
    assert acc["lava"] == sum(p == t for p, t in zip(check["predictions"]["lava"],
                                                     check["predictions"]["label"], strict=False)) / 2
    spikes = json.loads((out / "spikes.json").read_text())
    assert set(spikes["layers"]) == {"input", *LAYERS}
    assert spikes["layers"]["input"] > 0 and spikes["samples"] == 4

    again = runner.invoke(app, ["run", str(out), "--strict", "--lava-samples", "2"])
    assert again.exit_code == 0, again.stderr + again.stdout
    assert json.loads((out / "check.json").read_text())["predictions"] == check["predictions"]


@pytest.mark.lava
def test_strict_fails_on_a_broken_deployment_naming_the_layer(checkpoint, tmp_path):
    out = tmp_path / "deploy"
    assert runner.invoke(app, ["export", str(checkpoint), "--target", "onnx", "--out", str(out),
                               "--samples", "2"]).exit_code == 0
    net = Network.load(out / "ir")
    net.layer("conv2").synapses[0].weight *= -1
    net.save(out / "ir")
    broken = runner.invoke(app, ["run", str(out), "--strict", "--lava-samples", "1"])
    assert broken.exit_code == 1 and "conv2" in broken.stderr
    check = json.loads((out / "check.json").read_text())
    assert not check["exact"]
    for name in ("lava_vs_quantized", "emulator_vs_quantized"):
        assert check["comparisons"][name]["first_mismatch_layer"] == "conv2"
    assert check["comparisons"]["emulator_vs_lava"]["exact"]


def test_interop_targets_write_and_check_their_files(checkpoint, tmp_path):
    out = tmp_path / "onnx"
    result = runner.invoke(app, ["export", str(checkpoint), "--target", "onnx", "--out", str(out),
                                 "--samples", "3", "--strict"])
    assert result.exit_code == 0, result.stderr + result.stdout
    check = json.loads((out / "check.json").read_text())
    assert check["files"]["onnx"] == "network.onnx" and (out / "network.onnx").is_file()
    onnx = check["comparisons"]["onnx_vs_emulator"]
    assert onnx["exact"] and onnx["samples"] == 3 and onnx["layers"] == ["out"]
    assert check["lava_samples"] == 0 and check["accuracy"]["lava"] is None

    again = runner.invoke(app, ["run", str(out), "--target", "nir"])
    assert again.exit_code == 0, again.stderr + again.stdout
    check = json.loads((out / "check.json").read_text())
    files = check["files"]
    assert (out / "network.nir").is_file() and files["nir_nodes"] > len(LAYERS)
    assert files["nir_client"].startswith("snntorch") and "nir_client_error" not in files
    nir_run = check["comparisons"]["nir_vs_emulator"]  # the file as snnTorch runs it, every sample
    assert nir_run["samples"] == 3 and nir_run["output_spike_agreement"] >= 0.99
    assert check["exact"] == all(c["exact"] for c in check["comparisons"].values())


def test_loihi2_target_writes_files_and_says_what_to_install(checkpoint, tmp_path):
    out = tmp_path / "hw"
    result = runner.invoke(app, ["export", str(checkpoint), "--target", "loihi2", "--out", str(out),
                                 "--samples", "1"])
    assert result.exit_code != 0
    assert "lava-loihi" in result.stderr and "INRC" in result.stderr
    assert (out / "ir" / "network.json").is_file() and (out / "network.net").is_file()
    assert not (out / "check.json").exists()


def test_bad_inputs_fail_with_one_clear_line(tmp_path):
    missing = runner.invoke(app, ["export", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "o")])
    assert missing.exit_code != 0 and "nope.pt" in missing.stderr and "not found" in missing.stderr
    empty = runner.invoke(app, ["run", str(tmp_path)])
    assert empty.exit_code != 0 and "samples.npz" in empty.stderr


def _one_error_line(result, *words: str) -> None:
    """Exit 2 and a single stderr line holding every word (file names, options), no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.stderr + result.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(word in lines[0] for word in words), (words, lines[0])


def test_out_under_a_file_is_one_line_for_every_command(checkpoint, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    under = str(blocker / "out")
    _one_error_line(runner.invoke(app, ["export", str(checkpoint), "--out", under]), "--out", "a-file",
                    "is a file")
    _one_error_line(runner.invoke(app, ["report", str(tmp_path), "--out", under]), "--out", "a-file")
    _one_error_line(runner.invoke(app, ["import-netx", str(blocker), "--out", under]), "--out", "a-file")
    _one_error_line(runner.invoke(app, ["run", str(blocker)]), "a-file")


def test_read_only_out_is_one_line(checkpoint, tmp_path, monkeypatch):
    """Checked before any work (the folder's access rights), and where a write is refused all the same."""
    import tmkt_common.atomic

    locked = tmp_path / "locked"
    locked.mkdir()
    real_probe = tmkt_common.atomic.tempfile.TemporaryFile

    def probe(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == locked:
            raise PermissionError(13, "Permission denied", str(dir))
        return real_probe(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tmkt_common.atomic.tempfile, "TemporaryFile", probe)
    for args in (["export", str(checkpoint)], ["report", str(tmp_path)], ["import-netx", str(checkpoint)]):
        result = runner.invoke(app, [*args, "--out", str(locked / "out")])
        _one_error_line(result, "locked", "cannot write in")
    monkeypatch.undo()

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir))

    monkeypatch.setattr(tmkt_common.atomic.tempfile, "mkdtemp", refuse)
    result = runner.invoke(app, ["export", str(checkpoint), "--out", str(locked / "out"), "-n", "1",
                                 "--target", "nir"])
    _one_error_line(result, str(locked), "Permission denied")
    assert "Errno" not in result.stderr


def test_damaged_or_foreign_checkpoints_are_one_line_naming_the_file(checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    cases = {"random.pt": rng.bytes(4096), "truncated.pt": checkpoint.read_bytes()[:2000]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        result = runner.invoke(app, ["export", str(tmp_path / name), "--out", str(tmp_path / "o")])
        _one_error_line(result, name, "not a tmkt checkpoint")
    doc = torch.load(checkpoint, weights_only=False)
    for key in ("state_dict", "train"):
        torch.save({k: v for k, v in doc.items() if k != key}, tmp_path / f"no-{key}.pt")
        result = runner.invoke(app, ["export", str(tmp_path / f"no-{key}.pt"), "--out", str(tmp_path / "o")])
        _one_error_line(result, f"no-{key}.pt", repr(key))
    assert not (tmp_path / "o").exists()


def test_a_run_folder_missing_its_ir_names_the_file(tmp_path):
    """Was `error: 2` (the errno of a FileNotFoundError)."""
    np.savez(tmp_path / "samples.npz", frames=np.zeros(1))
    _one_error_line(runner.invoke(app, ["run", str(tmp_path)]), str(tmp_path / "ir"))
