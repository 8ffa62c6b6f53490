"""Energy per inference and chip fit: hand-computed breakdowns, monotonic in spikes, core and chip counts."""

from __future__ import annotations

import numpy as np
import pytest

from tmkt_deploy.energy import count_activity, estimate, fit, load_profile
from tmkt_deploy.ir import Cuba, Layer, Network, Synapse

NEURON = Cuba(i_decay=1024, v_decay=128, vth_mant=80)


def dense_net(n_in: int, n_out: int, weight: int = 1, time_steps: int = 2) -> Network:
    syn = Synapse("input", "dense", np.full((n_out, n_in), weight, dtype=np.int16))
    return Network("dense", (n_in, 1, 1), time_steps, [Layer("fc", (n_out,), NEURON, [syn])], output="fc")


def test_loihi1_breakdown_by_hand():
    net = dense_net(6, 4)  # T=2, latency 1 -> 3 steps, 12 neuron updates
    act = count_activity(net, {"input": 10.0, "fc": 3.0})
    e = estimate(load_profile("loihi1"), act)
    pj = 1e-12
    assert e.breakdown["synaptic"] == pytest.approx(10 * 4 * 23.6 * pj)
    assert e.breakdown["neuron"] == pytest.approx((3 * 81 + 9 * 52) * pj)
    assert e.breakdown["routing"] == pytest.approx(10 * (1.7 + 3.5) * pj)
    assert e.breakdown["static"] == 0
    assert e.total == pytest.approx(sum(e.breakdown.values()))
    assert "simulated" in e.kinds


def test_ann_equivalent_counts_macs_not_spikes():
    net = dense_net(6, 4)
    ann = load_profile("ann-45nm")
    quiet = estimate(ann, count_activity(net, {"input": 1.0, "fc": 0.0}))
    busy = estimate(ann, count_activity(net, {"input": 50.0, "fc": 9.0}))
    assert quiet.total == busy.total == pytest.approx(24 * 4.6e-12)


@pytest.mark.parametrize("profile", ["loihi1", "loihi2"])
def test_more_spikes_cost_more_energy(profile):
    net, prof = dense_net(6, 4), load_profile(profile)
    totals = [estimate(prof, count_activity(net, {"input": s, "fc": s / 4})).total for s in (1.0, 5.0, 20.0)]
    assert totals[0] < totals[1] < totals[2]


def test_neuron_bound_layer_cores_and_chips():
    net = dense_net(1, 200 * 1024)  # 204,800 neurons, 1 synapse each
    result = fit(net, load_profile("loihi1"))
    assert result.cores == 200 and result.chips == 2 and result.limited_by == {"fc": "neurons"}
    assert fit(net, load_profile("loihi2")).cores == 25  # 8192 neurons per core


def test_synapse_bound_layer_uses_weight_bits():
    net = dense_net(2000, 1000, weight=100)  # 2e6 synapses x 8 bits (|100| needs 7 bits + sign)
    result = fit(net, load_profile("loihi1"))
    assert result.weight_bits == 8 and result.weights_fit
    assert result.cores == int(np.ceil(2e6 * 8 / (128 * 1024 * 8))) and result.limited_by["fc"] == "synapses"


def test_too_wide_weights_and_ann_profile_are_reported():
    assert not fit(dense_net(2, 2, weight=300), load_profile("loihi2")).weights_fit  # 10 bits > 8
    with pytest.raises(ValueError, match="ann-45nm.*no chip capacity"):
        fit(dense_net(2, 2), load_profile("ann-45nm"))


def test_fit_reads_the_activitys_synapse_counts():
    """The report passes its activity (fan-outs counted once); a silent run's structure gives the same fit."""
    net, prof = dense_net(300, 500, weight=100), load_profile("loihi1")  # 150,000 synapses of 8 bits
    activity = count_activity(net, {"input": 7.0, "fc": 2.0})
    assert activity.layers[0].synapses == 150_000
    assert fit(net, prof, activity) == fit(net, prof)
    assert fit(net, prof, activity).cores_by_layer["fc"] == 2  # 1.2 Mbit over 1 Mbit per core
    with pytest.raises(ValueError, match="not those of network"):
        fit(dense_net(2, 2), prof, activity)
