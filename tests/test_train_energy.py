"""Issue 15: the energy term in the loss. Its synaptic ops and energy equal the deploy report's (streaming
schedule) on the same batch; its gradient lowers spikes; weight 0 changes nothing; the hinge; bad keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_train import ToyPairs, toy_config
from typer.testing import CliRunner

from tmkt_deploy.bridge import graded_frames
from tmkt_deploy.emulator import emulate
from tmkt_deploy.energy import count_activity, estimate, load_profile, schedule_steps
from tmkt_deploy.energy.records import ActivityRecord
from tmkt_deploy.quantize import quantize_net
from tmkt_train.checkpoint import load_model
from tmkt_train.cli import app
from tmkt_train.config import MethodConfig, config_from_dict
from tmkt_train.methods.energy import EnergyTerm
from tmkt_train.models import build_model
from tmkt_train.models.energy import EnergyMeter
from tmkt_train.train.trainer import fit

torch.set_num_threads(1)


def small_model(backbone: str = "scnn", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(backbone, num_classes=4, input_shape=(2, 16, 16), width=1 / 8)


def event_batch(seed: int = 0, n: int = 3, steps: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 2, 16, 16, steps, generator=g) < 0.3).float() * 2


@pytest.mark.parametrize("backbone", ["scnn", "vggsnn", "resnet18"])
def test_energy_term_counts_what_the_report_counts_on_the_same_batch(backbone):
    """Training's delay-free T steps are each layer's first T chip-timed steps: the report's streaming
    schedule. Its synops and energy must equal count_activity/estimate on the emulator's counts exactly;
    the isolated schedule (T + latency steps) costs more."""
    model, x = small_model(backbone), event_batch()
    with torch.no_grad():
        model.nodes["stem" if backbone == "resnet18" else "conv1"].synapse.weight.mul_(3)  # make layers fire
    meter = EnergyMeter(model, "loihi2")
    with torch.no_grad():
        out = model(x)
    net = quantize_net(model, name=backbone, time_steps=x.shape[-1])
    record = ActivityRecord.from_emulation(net, [emulate(net, graded_frames(model, x), activity=True)])
    profile = load_profile("loihi2")
    streaming = count_activity(net, record.mean_spikes("streaming"), steps=schedule_steps(net, "streaming"))
    isolated = count_activity(net, record.mean_spikes("isolated"))
    assert streaming.spikes > 0
    assert float(meter.synops(out.layers)) == pytest.approx(streaming.synops, rel=1e-6)
    assert float(meter.energy_uj(out.layers)) == pytest.approx(estimate(profile, streaming).total * 1e6,
                                                               rel=1e-6)
    assert estimate(profile, isolated).total > estimate(profile, streaming).total


def test_gradient_is_finite_and_a_few_steps_lower_the_spikes():
    model, x = small_model(), event_batch(n=4)
    cfg = MethodConfig(energy=1.0)
    term = EnergyTerm(model, cfg)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01)
    spikes = []
    for _ in range(6):
        out = model(x)
        terms, metrics = term(out, slice(None))
        optimizer.zero_grad()
        terms["energy"].backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)
        optimizer.step()
        spikes.append(float(out.total_spikes))
    assert spikes[-1] < 0.8 * spikes[0]


def test_budget_above_the_current_energy_gives_a_zero_term_and_rates_below_targets_too():
    model, x = small_model(), event_batch()
    with torch.no_grad():
        energy = float(EnergyMeter(model, "loihi2").energy_uj(model(x).layers))
    term = EnergyTerm(model, MethodConfig(energy=5.0, energy_budget_uj=energy * 1.01, max_rates={"*": 1.0}))
    terms, metrics = term(model(x), slice(None))
    assert float(terms["energy"]) == 0 and float(terms["rate"]) == 0
    assert float(metrics["energy_uj"]) == pytest.approx(energy)
    below = EnergyTerm(model, MethodConfig(energy=5.0, energy_budget_uj=energy * 0.5))
    assert float(below(model(x), slice(None))[0]["energy"]) == pytest.approx(5.0 * energy * 0.5, rel=1e-5)


def test_weight_zero_reproduces_a_seeded_run_exactly(tmp_path):
    data = dict(train_set=ToyPairs(), test_set=ToyPairs(seed=1))
    plain = toy_config("dvs-only", epochs=1)
    keyed = toy_config("dvs-only", epochs=1)
    keyed.loss.energy, keyed.loss.energy_budget_uj, keyed.loss.energy_profile = 0.0, 3.0, "loihi1"
    fit(plain, tmp_path / "plain", device="cpu", **data)
    fit(keyed, tmp_path / "keyed", device="cpu", **data)
    a = load_model(tmp_path / "plain" / "checkpoint.pt")[0].state_dict()
    b = load_model(tmp_path / "keyed" / "checkpoint.pt")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_every_method_trains_with_the_energy_term(tmp_path):
    for method in ("tmkt", "sliding-kt", "rgb-pretrain"):
        cfg = toy_config(method, epochs=2 if method == "rgb-pretrain" else 1)
        cfg.loss.energy, cfg.loss.max_rates = 0.01, {"conv1": 0.1}
        (line, *_) = fit(cfg, tmp_path / method, train_set=ToyPairs(), test_set=ToyPairs(seed=1),
                         device="cpu")[-1:]
        assert line["energy_uj"] > 0 and np.isfinite(line["loss"]) and "rate" in line


@pytest.mark.parametrize(("values", "key"), [
    ({"energy_budget_uj": -1.0}, "energy_budget_uj"),
    ({"energy_profile": "loihi9"}, "energy_profile"),
    ({"energy": -0.5}, "[loss] energy"),
    ({"max_rates": {"conv1": 1.5}}, "max_rates.conv1"),
])
def test_bad_energy_settings_fail_naming_the_key(values, key):
    with pytest.raises(ValueError, match="loss") as err:
        config_from_dict({"loss": values})
    assert key in str(err.value) and "\n" not in str(err.value)


def test_unknown_rate_layer_and_cli_options(tmp_path):
    with pytest.raises(ValueError, match=r"max_rates: no neuron layer \['conv9'\]"):
        EnergyTerm(small_model(), MethodConfig(max_rates={"conv9": 0.1}))
    result = CliRunner().invoke(app, ["fit", "--energy-budget", "-3", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "energy_budget_uj" in result.output and not (tmp_path / "run").exists()
    result = CliRunner().invoke(app, ["fit", "--energy-profile", "ann-45nm", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "energy_profile" in result.output


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_fused_cuda_path_prices_the_same_spikes_and_carries_their_gradient():
    model, x = small_model(), event_batch()
    with torch.no_grad():
        cpu = float(EnergyMeter(model, "loihi2").energy_uj(model(x).layers))
    model = model.cuda()
    meter = EnergyMeter(model, "loihi2")
    energy = meter.energy_uj(model(x.cuda()).layers)  # the fast path's spikes (tmkt_train.fast)
    assert float(energy) == pytest.approx(cpu, rel=1e-5)
    energy.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
