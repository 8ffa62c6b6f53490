"""`tmkt-deploy report` on export run directories and on a lava-dl netx file: files, keys, sane relations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import support
from typer.testing import CliRunner

from tmkt_deploy.cli import app
from tmkt_deploy.emulator import emulate
from tmkt_deploy.energy.records import ActivityRecord
from tmkt_deploy.export_folder import ACTIVITY_FILE
from tmkt_deploy.ir import Cuba, Layer, Network, Synapse

runner = CliRunner()
NEURON = Cuba(i_decay=1024, v_decay=128, vth_mant=80)
PROFILES = ["-p", "loihi2", "-p", "loihi1", "-p", "ann-45nm"]
BACKBONE_KEYS = {"name", "source", "samples", "accuracy", "agreement", "time_steps", "latency_steps", "steps",
                 "neurons", "synapses", "input_events", "spikes_per_sample", "spikes_per_layer",
                 "firing_rates", "synops", "synops_nonzero", "neuron_updates", "active_updates",
                 "spikes_routed", "macs", "acs", "payload_bits", "energy_j", "schedules", "sensitivity_j",
                 "break_even", "fit"}
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


def emulated_activity(net: Network, samples: int = 8, seed: int = 0) -> ActivityRecord:
    """What an export records: the emulator's per-neuron counts on random graded frames."""
    frames = support.graded_frames((samples, *net.input_shape, net.time_steps), high=4, seed=seed)
    return ActivityRecord.from_emulation(net, [emulate(net, frames, activity=True)])


def write_run(root: Path, net: Network, activity: ActivityRecord, tag: str, deployed: float = 0.5) -> Path:
    """An export run directory as `tmkt-deploy export` writes it (with the extra keys the check adds)."""
    run = root / f"{net.name}-{tag}"
    net.save(run / "ir")
    (run / "check.json").write_text(json.dumps({
        "target": "loihi2-sim", "samples": activity.samples, "exact": True, "agreement": 1.0,
        "accuracy": {"float": 0.625, "quantized": 0.5, "deployed": deployed}}))
    activity.save(run / ACTIVITY_FILE)
    return run


def doubled(record: ActivityRecord) -> ActivityRecord:
    """Twice the activity on the same samples."""
    def twice(per_schedule: dict) -> dict:
        return {s: {k: 2 * v for k, v in d.items()} for s, d in per_schedule.items()}

    return ActivityRecord(record.samples, twice(record.spikes), twice(record.changed))


@pytest.fixture()
def runs(tmp_path: Path) -> dict[str, Path]:
    quiet = emulated_activity(backbone_a())
    return {
        "a": write_run(tmp_path, backbone_a(), quiet, "quiet"),
        "a_busy": write_run(tmp_path, backbone_a(), doubled(quiet), "busy"),
        "b": write_run(tmp_path, backbone_b(), emulated_activity(backbone_b()), "b", deployed=0.75),
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
    assert a["steps"] == 5 + 3 and b["steps"] == 5 + 2 and a["latency_steps"] == 3
    assert a["schedules"]["streaming"]["steps"] == 5 and doc["schedule"] == "isolated"
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
    path = runs["b"] / ACTIVITY_FILE
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files if k != "streaming/spikes/c1"}
    np.savez(path, **arrays)
    result = runner.invoke(app, ["report", str(runs["b"]), "--out", str(tmp_path / "r")])
    assert result.exit_code != 0
    assert "activity.npz: missing key 'streaming/spikes/c1'" in result.output.replace("\n", "")


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


def brute_force_synops(net: Network, frames: np.ndarray, steps: int) -> float:
    """Synaptic ops per sample by explicit loops over every target neuron, tap and window step: for each
    target (o, y, x) and tap (c, ky, kx) inside the source, add the source's spike (input: event) count."""
    import torch

    from tmkt_deploy.emulator import WindowRunner

    windows = WindowRunner(net, torch.device("cpu"))(torch.as_tensor(frames))
    total = 0.0
    for layer in net.layers:
        for syn in layer.synapses:
            spikes = (windows[syn.source].spikes[:, :steps] != 0).sum(dim=(0, 1)).numpy()  # per source neuron
            if syn.kind == "dense":
                total += spikes.sum() * syn.weight.shape[0]
                continue
            c_out, per_group, kh, kw = syn.weight.shape
            _, h_out, w_out = layer.shape
            c_in, h, w = spikes.shape
            for o in range(c_out):
                group = o // (c_out // syn.groups)
                for y in range(h_out):
                    for x in range(w_out):
                        for ci in range(per_group):
                            for ky in range(kh):
                                for kx in range(kw):
                                    sy = y * syn.stride[0] - syn.padding[0] + ky * syn.dilation[0]
                                    sx = x * syn.stride[1] - syn.padding[1] + kx * syn.dilation[1]
                                    if 0 <= sy < h and 0 <= sx < w:
                                        total += spikes[group * per_group + ci, sy, sx]
    return total / len(frames)


def test_report_synops_equal_a_brute_force_count_with_activity_at_the_borders(tmp_path):
    """Issue 24: the report's synaptic ops are exact (the mean-fan-out shortcut was ~3 % off on conv layers).
    Input events sit only on the border ring, where padded stride-2 taps reach fewest outputs."""
    net = backbone_a()
    frames = support.graded_frames((6, *net.input_shape, net.time_steps), density=0.9, high=200)
    frames[:, :, 1:-1, 1:-1, :] = 0
    activity = ActivityRecord.from_emulation(net, [emulate(net, frames, activity=True)])
    run = write_run(tmp_path, net, activity, "border")
    result = runner.invoke(app, ["report", str(run), "-p", "loihi2", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    (doc,) = json.loads((tmp_path / "r" / "report.json").read_text())["backbones"]
    isolated, streaming = (brute_force_synops(net, frames, steps) for steps in (net.steps_per_sample(), 5))
    assert doc["synops"] == pytest.approx(isolated, rel=1e-12)
    assert doc["schedules"]["streaming"]["synops"] == pytest.approx(streaming, rel=1e-12)
    assert 0 < streaming <= isolated
