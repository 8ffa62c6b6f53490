"""NIR import: graphs written by snnTorch and Norse, and by our own export, into the IR; the emulator, a tiny
Lava run, the CLI and the energy report on them; every unsupported node named in one error."""

from __future__ import annotations

import json
from types import SimpleNamespace

import nir
import numpy as np
import pytest
import snntorch as snn
import support
import torch
from snntorch.export_nir import export_to_nir
from test_interop_nir import T, scnn
from typer.testing import CliRunner

from tmkt_deploy.cli import app
from tmkt_deploy.emulator import emulate
from tmkt_deploy.interop import UnsupportedError
from tmkt_deploy.interop.nir_export import write_nir
from tmkt_deploy.interop.nir_import import _topological, float_simulation, quantisation_cost, read_nir
from tmkt_deploy.ir import Network
from tmkt_deploy.loihi_params import lava_dense_weight

runner = CliRunner()
STEPS = 12


def spikes_in(n: int, seed: int) -> np.ndarray:
    """Binary input events (n, 16, 1, 1, STEPS): dense nets read a 16-vector per step."""
    return (np.random.default_rng(seed).random((n, 16, 1, 1, STEPS)) < 0.3).astype(np.uint8)


def run_module(module: torch.nn.Module, frames: np.ndarray, stateful: bool) -> np.ndarray:
    """(N, K, STEPS) output spikes of a snnTorch (hidden state) or Norse (explicit state) module."""
    out = []
    with torch.no_grad():
        for sample in torch.as_tensor(frames[:, :, 0, 0], dtype=torch.float32):
            state, steps = None, []
            if not stateful:
                snn.utils.reset(module)
            for t in range(sample.shape[-1]):
                if stateful:
                    y, state = module(sample[:, t], state)
                else:
                    y = module(sample[:, t])
                    y = y[0] if isinstance(y, tuple) else y
                steps.append(y.numpy())
            out.append(np.stack(steps, -1))
    return np.stack(out).astype(np.uint8)


def check_against_source(graph: nir.NIRGraph, source: np.ndarray, frames: np.ndarray,
                         dt: float | None) -> dict:
    """The imported IR's unquantised simulation reproduces the source framework's spikes exactly (shifted by
    the IR latency); the quantised IR on the emulator stays close. Returns the quantisation cost."""
    imported = read_nir(graph, time_steps=STEPS, dt=dt, name="net")
    net = imported.net
    reference = float_simulation(imported, frames)[..., net.latency():]
    np.testing.assert_array_equal(reference, source)
    cost = quantisation_cost(imported, frames)
    print(cost)
    assert 0.05 < source.mean() < 0.9
    assert cost["output_spike_agreement"] >= 0.97 and cost["prediction_agreement"] >= 0.8
    return cost


def test_a_snntorch_net_imports_and_runs():
    """snnTorch exports every neuron with `v_reset = 0`, so the net uses NIR's reset (to zero, at once)."""
    torch.manual_seed(0)
    nir_reset = {"init_hidden": True, "reset_mechanism": "zero", "reset_delay": False}
    module = torch.nn.Sequential(
        torch.nn.Linear(16, 12, bias=False),
        snn.Synaptic(alpha=torch.full((12,), 0.5), beta=torch.full((12,), 0.75), threshold=torch.ones(12),
                     **nir_reset),
        torch.nn.Linear(12, 4, bias=False),
        snn.Leaky(beta=torch.full((4,), 0.5), threshold=torch.ones(4), output=True,
                  **nir_reset))
    with torch.no_grad():
        module[0].weight.mul_(3)
        module[2].weight.mul_(4)
    graph = export_to_nir(module, torch.zeros(16))  # snnTorch needs per-neuron parameters to type its graph
    frames = spikes_in(24, seed=0)
    check_against_source(graph, run_module(module, frames, stateful=False), frames, dt=None)


def test_a_norse_net_imports_and_runs():
    """Norse 1.1.0's `to_nir` writes `tau = dt / tau_mem_inv` (dt times the time constant), so its graphs are
    read with dt² (1e-6 for Norse's default dt of 1e-3): README, NIR."""
    norse = pytest.importorskip("norse.torch")  # the dev / nir-clients extra
    torch.manual_seed(1)
    lif = norse.LIFBoxParameters(tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(0.3))
    module = norse.SequentialState(torch.nn.Linear(16, 12, bias=False), norse.LIFBoxCell(lif),
                                   torch.nn.Linear(12, 4, bias=False), norse.LIFBoxCell(lif))
    with torch.no_grad():
        module[0].weight.mul_(4)
        module[2].weight.mul_(4)
    graph = norse.to_nir(module, torch.zeros(16))
    frames = spikes_in(24, seed=1)
    check_against_source(graph, run_module(module, frames, stateful=True), frames, dt=1e-6)


@pytest.mark.parametrize("residual", [False, True])
def test_export_then_import_gives_the_same_ir(tmp_path, residual):
    net = scnn(residual=residual)
    write_nir(net, tmp_path / "scnn.nir")
    back = read_nir(tmp_path / "scnn.nir", time_steps=T).net
    assert back.input_shape == net.input_shape and back.output == net.output and back.name == net.name
    for ours, theirs in zip(net.layers, back.layers, strict=True):
        assert (theirs.name, theirs.shape, theirs.neuron) == (ours.name, ours.shape, ours.neuron)
        for a, b in zip(ours.synapses, theirs.synapses, strict=True):
            assert (b.source, b.kind, b.stride, b.padding, b.groups, b.delay, b.role) == \
                (a.source, a.kind, a.stride, a.padding, a.groups, a.delay, a.role)
            want = lava_dense_weight(a.weight) if a.kind == "dense" else a.weight  # what Lava multiplies with
            np.testing.assert_array_equal(b.weight, want)
            assert b.weight.dtype == a.weight.dtype


@pytest.mark.lava
def test_imported_ir_runs_in_lava_as_in_the_emulator(tmp_path):
    from tmkt_deploy.lava.simulate import simulate

    write_nir(scnn(residual=True), tmp_path / "scnn.nir")
    net = read_nir(tmp_path / "scnn.nir", time_steps=4).net
    frames = support.graded_frames((1, 2, 8, 8, 4), high=4, seed=4, dtype=np.uint8)
    lava = simulate(net, frames, target="loihi2-sim")
    ours = emulate(net, frames, record=True).layer_spikes
    assert ours[net.output].any()
    for name, spikes in ours.items():
        np.testing.assert_array_equal(lava[name], spikes, err_msg=name)


def test_cli_imports_reports_energy_and_refuses_everything_unsupported_at_once(tmp_path):
    graph = nir.NIRGraph(
        nodes={"input": nir.Input({"input": np.array([4])}),
               "w": nir.Linear(weight=np.ones((3, 4))),
               "delay": nir.Delay(delay=np.ones(3)),
               "lif": nir.LIF(tau=np.full(3, 2e-4), r=np.full(3, 2.0), v_leak=np.zeros(3),
                              v_threshold=np.ones(3)),
               "li": nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)),
               "output": nir.Output({"output": np.array([3])})},
        edges=[("input", "w"), ("w", "delay"), ("delay", "lif"), ("lif", "li"), ("li", "output")])
    nir.write(tmp_path / "bad.nir", graph)
    bad = runner.invoke(app, ["import-nir", str(tmp_path / "bad.nir"), "--out", str(tmp_path / "bad")])
    message = " ".join(bad.stderr.split())
    assert bad.exit_code == 2 and message.count("error:") == 1
    assert "'delay' (Delay)" in message and "'li' (LI)" in message and "2 unsupported" in message
    assert not (tmp_path / "bad").exists()

    write_nir(scnn(), tmp_path / "scnn.nir")
    out = tmp_path / "ir"
    ok = runner.invoke(app, ["import-nir", str(tmp_path / "scnn.nir"), "--out", str(out), "--time-steps", "4",
                             "--samples", "3"])
    assert ok.exit_code == 0, ok.stderr + ok.stdout
    cost = Network.load(out).meta["quantisation"]
    assert cost["samples"] == 3 and cost["output_spike_agreement"] == 1.0  # already Loihi weights: no loss
    again = runner.invoke(app, ["import-nir", str(tmp_path / "scnn.nir"), "--out", str(out)])
    assert again.exit_code == 2 and "already holds" in " ".join(again.stderr.split())

    np.save(tmp_path / "spikes.npy", support.graded_frames((2, 2, 8, 8, 4), high=4, seed=6, dtype=np.uint8))
    report = runner.invoke(app, ["report", "--nir", str(tmp_path / "scnn.nir"), "--input",
                                 str(tmp_path / "spikes.npy"), "-p", "loihi2",
                                 "--out", str(tmp_path / "rep")])
    assert report.exit_code == 0, report.stderr + report.stdout
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert "scnn" in json.dumps(doc) and (tmp_path / "rep" / "report.md").is_file()


def test_unsupported_error_lists_every_node():
    graph = nir.NIRGraph(
        nodes={"input": nir.Input({"input": np.array([4])}),
               "w": nir.Affine(weight=np.ones((3, 4)), bias=np.arange(3.0)),
               "cuba": nir.CubaLIF(tau_syn=np.full(3, 2e-4), tau_mem=np.full(3, 2e-4), r=np.full(3, 2.0),
                                   v_leak=np.zeros(3), v_threshold=np.array([1.0, 2.0, 1.0])),
               "output": nir.Output({"output": np.array([3])})},
        edges=[("input", "w"), ("w", "cuba"), ("cuba", "output")])
    with pytest.raises(UnsupportedError, match="'cuba' \\(CubaLIF\\): v_threshold differs"):
        read_nir(graph)


def test_nodes_are_ordered_first_in_first_out_and_a_cycle_is_refused():
    """Ready nodes leave in the order they became ready (node order, then edge order): the IR's layers'."""
    graph = SimpleNamespace(nodes=dict.fromkeys(["in", "b", "a", "join", "out", "c"]),
                            edges=[("in", "a"), ("in", "b"), ("b", "join"), ("a", "join"), ("join", "out")])
    assert _topological(graph) == ["in", "c", "a", "b", "join", "out"]
    lif = {"tau": np.full(3, 2e-4), "r": np.full(3, 2.0), "v_leak": np.zeros(3), "v_threshold": np.ones(3)}
    recurrent = nir.NIRGraph(
        nodes={"input": nir.Input({"input": np.array([3])}), "w": nir.Affine(np.eye(3), np.zeros(3)),
               "lif": nir.LIF(**lif), "back": nir.Linear(np.eye(3)),
               "output": nir.Output({"output": np.array([3])})},
        edges=[("input", "w"), ("w", "lif"), ("lif", "back"), ("back", "lif"), ("lif", "output")])
    with pytest.raises(UnsupportedError, match="cycle"):
        read_nir(recurrent)


def test_scale_if_avgpool_and_a_uniform_bias_map_onto_loihi_integers():
    """Scale → Conv2d → IF → AvgPool2d → IF → Flatten → Affine (one bias for all) → LIF, built by hand: the
    integers are what the stated rule gives, and the emulator follows the unquantised graph."""
    rng = np.random.default_rng(7)
    conv = rng.normal(0, 1, (3, 2, 3, 3))
    dense = rng.normal(0, 1, (4, 12))
    graph = nir.NIRGraph(
        nodes={"input": nir.Input({"input": np.array([2, 4, 4])}),
               "scale": nir.Scale(scale=np.full((2, 4, 4), 0.5)),
               "conv": nir.Conv2d(input_shape=(4, 4), weight=conv, stride=1, padding=1, dilation=1, groups=1,
                                  bias=np.zeros(3)),
               "if1": nir.IF(r=np.full((3, 4, 4), 2.0), v_threshold=np.full((3, 4, 4), 1.0)),
               "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])),
               "if2": nir.IF(r=np.ones((3, 2, 2)), v_threshold=np.full((3, 2, 2), 0.5)),
               "flat": nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=0),
               "fc": nir.Affine(weight=dense, bias=np.full(4, 0.25)),
               "lif": nir.LIF(tau=np.full(4, 4e-4), r=np.full(4, 4.0), v_leak=np.zeros(4),
                              v_threshold=np.full(4, 1.5)),
               "output": nir.Output({"output": np.array([4])})},
        edges=[("input", "scale"), ("scale", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "if2"),
               ("if2", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "output")])
    imported = read_nir(graph, time_steps=6)
    net = imported.net
    assert [layer.name for layer in net.layers] == ["if1", "if2", "lif"]
    if1, if2, lif = net.layers
    scale = 254 / np.abs(conv).max()
    np.testing.assert_array_equal(if1.synapses[0].weight, 2 * np.round(conv * scale / 2))  # 0.5 * 2 = 1
    assert (if1.neuron.i_decay, if1.neuron.v_decay, if1.neuron.vth_mant) == (4096, 0, round(scale))
    assert if2.synapses[0].role == "pool" and np.all(if2.synapses[0].weight == 254)
    assert if2.neuron.vth_mant == round(0.5 * 254 / 0.25)
    assert lif.neuron.v_decay == 1024 and lif.neuron.bias_mant == round(0.25 * 254 / np.abs(dense).max())
    frames = support.graded_frames((16, 2, 4, 4, 6), high=3, seed=8, dtype=np.uint8)
    cost = quantisation_cost(imported, frames)
    assert float_simulation(imported, frames).any() and cost["output_spike_agreement"] >= 0.9
