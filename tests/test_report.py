"""`tmkt-deploy report` on export run directories and on a lava-dl netx file: files, keys, sane relations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import support
from typer.testing import CliRunner

from tmkt_deploy.cli import app
from tmkt_deploy.ir import Cuba, Layer, Network, Synapse

runner = CliRunner()
NEURON = Cuba(i_decay=1024, v_decay=128, vth_mant=80)
PROFILES = ["-p", "loihi2", "-p", "loihi1", "-p", "ann-45nm"]
BACKBONE_KEYS = {"name", "source", "samples", "accuracy", "agreement", "time_steps", "latency_steps",
                 "neurons", "synapses", "input_events", "spikes_per_sample", "spikes_per_layer", "synops",
                 "neuron_updates", "spikes_routed", "macs", "acs", "payload_bits", "energy_j", "fit"}
FIGURES = ["accuracy_vs_energy.png", "spikes_per_layer.png", "energy_breakdown.png"]


def weights(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-100, 100, shape).astype(np.int16)


def backbone_a() -> Network:
    """conv (stride 2) → sum-pool → dense."""
    return Network("tiny-a", (2, 6, 6), 5, [
        Layer("c1", (4, 3, 3), NEURON, [Synapse("input", "conv", weights(4, 2, 3, 3), stride=(2, 2),
                                                padding=(1, 1))]),
        Layer("p1", (4, 1, 1), NEURON, [Synapse("c1", "conv", np.ones((4, 1, 3, 3), np.int16), stride=(3, 3),
                                                groups=4, role="pool")]),
        Layer("fc", (3,), NEURON, [Synapse("p1", "dense", weights(3, 4))]),
    ], output="fc", class_names=["a", "b", "c"])


def backbone_b() -> Network:
    """conv (same size) → dense over the flattened map."""
    return Network("tiny-b", (2, 6, 6), 5, [
        Layer("c1", (4, 6, 6), NEURON, [Synapse("input", "conv", weights(4, 2, 3, 3, seed=1),
                                                padding=(1, 1))]),
        Layer("fc", (3,), NEURON, [Synapse("c1", "dense", weights(3, 144, seed=2))]),
    ], output="fc", class_names=["a", "b", "c"])


def write_run(root: Path, net: Network, spikes: dict[str, float], deployed: float = 0.5) -> Path:
    """An export run directory as `tmkt-deploy export` writes it (with the extra keys the check adds)."""
    run = root / f"{net.name}-{int(sum(spikes.values()))}"
    net.save(run / "ir")
    (run / "check.json").write_text(json.dumps({
        "target": "loihi2-sim", "samples": 8, "exact": True, "agreement": 1.0,
        "accuracy": {"float": 0.625, "quantized": 0.5, "deployed": deployed}}))
    summary = {"samples": 8, "unit": "spikes per sample", "layers": spikes}
    (run / "spikes.json").write_text(json.dumps(summary))
    return run


@pytest.fixture()
def runs(tmp_path: Path) -> dict[str, Path]:
    quiet = {"input": 40.0, "c1": 12.0, "p1": 3.0, "fc": 2.0}
    return {
        "a": write_run(tmp_path, backbone_a(), quiet),
        "a_busy": write_run(tmp_path, backbone_a(), {k: 2 * v for k, v in quiet.items()}),
        "b": write_run(tmp_path, backbone_b(), {"input": 40.0, "c1": 30.0, "fc": 4.0}, deployed=0.75),
    }


def test_report_for_two_backbones(runs, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(runs["a"]), str(runs["b"]), str(runs["a_busy"]), *PROFILES,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "energy per inference" in result.output
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((out / "report.json").read_text())
    assert doc["format"] == "tmkt-energy-report" and list(doc["profiles"]) == ["loihi2", "loihi1", "ann-45nm"]
    a, b, busy = doc["backbones"]
    assert set(a) == BACKBONE_KEYS and set(b) == BACKBONE_KEYS
    assert a["name"].startswith("tiny-a (") and b["name"] == "tiny-b"  # same network twice → qualified names
    assert a["latency_steps"] == 5 + 3 and b["latency_steps"] == 5 + 2
    assert a["accuracy"] == {"float": 0.625, "quantized": 0.5, "deployed": 0.5}
    assert b["accuracy"]["deployed"] == 0.75
    assert set(a["fit"]) == {"loihi2", "loihi1"} and a["fit"]["loihi2"]["chips"] == 1
    assert busy["synops"] == pytest.approx(2 * a["synops"])
    for chip in ("loihi2", "loihi1"):
        assert busy["energy_j"][chip]["total"] > a["energy_j"][chip]["total"] > 0
        assert set(a["energy_j"][chip]["breakdown"]) == {"synaptic", "neuron", "routing", "static"}
    assert busy["energy_j"]["ann-45nm"]["total"] == a["energy_j"]["ann-45nm"]["total"] > 0
    # the wider backbone has more neurons and connections: more neuron updates and MACs
    assert b["neuron_updates"] > a["neuron_updates"] and b["macs"] > a["macs"]
    md = (out / "report.md").read_text()
    assert "tiny-b" in md and "estimated" in md and all(f"({name})" in md for name in FIGURES)


def test_bad_check_json_names_key_and_writes_nothing(runs, tmp_path):
    check = runs["a"] / "check.json"
    doc = json.loads(check.read_text())
    del doc["accuracy"]["deployed"]
    check.write_text(json.dumps(doc))
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(runs["a"]), str(runs["b"]), "--out", str(out)])
    assert result.exit_code != 0
    message = result.output.replace("\n", "")  # rich wraps long lines
    assert "check.json: missing key 'accuracy.deployed'" in message
    assert not out.exists()


def test_missing_layer_count_names_layer(runs, tmp_path):
    spikes = runs["b"] / "spikes.json"
    doc = json.loads(spikes.read_text())
    del doc["layers"]["c1"]
    spikes.write_text(json.dumps(doc))
    result = runner.invoke(app, ["report", str(runs["b"]), "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert "spikes.json: missing key 'layers.c1'" in result.output.replace("\n", "")


def test_bad_options_fail_clearly(runs, tmp_path):
    result = runner.invoke(app, ["report", str(runs["a"]), "-p", "loihi9", "--out", str(tmp_path / "r")])
    assert result.exit_code != 0 and "loihi9" in result.output
    result = runner.invoke(app, ["report", "--netx", str(tmp_path / "x.net"), "--out", str(tmp_path / "r")])
    assert result.exit_code != 0 and "--input" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code != 0 and "nowhere" in result.output


def export_lava_dl_netx(path: Path) -> None:
    """A network trained elsewhere: lava-dl SLAYER blocks exported with their own `export_hdf5`."""
    import lava.lib.dl.slayer as slayer
    import torch

    torch.manual_seed(0)
    params = {"threshold": 0.5, "current_decay": 0.25, "voltage_decay": 0.03, "requires_grad": False}
    blocks = [slayer.block.cuba.Conv(params, 2, 4, 3, padding=1, stride=2, weight_scale=4),
              slayer.block.cuba.Flatten(), slayer.block.cuba.Dense(params, 4 * 3 * 3, 3, weight_scale=4)]
    support.run_and_export_netx(blocks, torch.ones(1, 2, 6, 6, 3), path)


def test_netx_file_trained_elsewhere(runs, tmp_path):
    netx, inputs, out = tmp_path / "tiny.net", tmp_path / "in.npy", tmp_path / "report"
    export_lava_dl_netx(netx)
    spikes = support.graded_frames((3, 2, 6, 6, 5), high=2)  # binary spikes
    np.save(inputs, spikes.transpose(0, 3, 2, 1, 4))  # netx's layout: (N, x, y, c, T)
    result = runner.invoke(app, ["report", str(runs["a"]), "--netx", str(netx), "--input", str(inputs),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    mine, theirs = json.loads((out / "report.json").read_text())["backbones"]
    assert theirs["name"] == "tiny" and set(theirs["accuracy"].values()) == {None}
    assert theirs["input_events"] == pytest.approx(np.count_nonzero(spikes) / 3)
    assert theirs["samples"] == 3 and theirs["time_steps"] == 5 and theirs["energy_j"]["loihi2"]["total"] > 0
