"""TMKT pieces: truncated time-step mixup and its ratio, MAG/MRP targets, CKA, losses, the schedule."""

from __future__ import annotations

import pytest
import torch

from tmkt_train.methods import MethodConfig, build_method, mix_ratio, switch_probability, time_step_mixup
from tmkt_train.methods.cka import StepWeights, linear_cka
from tmkt_train.methods.heads import ModalityHead, RatioHead
from tmkt_train.methods.losses import classification_loss
from tmkt_train.methods.tsm import expected_event_frames, truncated_mask
from tmkt_train.models import build_model

torch.set_num_threads(1)


@pytest.mark.parametrize("ratio,p", [(0.1, 0.019), (0.25, 0.053), (0.5, 0.131), (0.75, 0.278), (0.9, 0.5)])
def test_switch_probability_matches_the_method_table(ratio, p):
    solved = switch_probability(ratio, 10)
    assert solved == pytest.approx(p, abs=1e-3)
    assert expected_event_frames(solved, 10) == pytest.approx(ratio * 10, abs=1e-6)


def test_switch_probability_edges_and_bad_ratio():
    assert switch_probability(0.0, 10) == pytest.approx(0.0, abs=1e-8)
    assert switch_probability(1.0, 10) == pytest.approx(1.0, abs=1e-8)
    with pytest.raises(ValueError, match="mix ratio"):
        switch_probability(1.5, 10)


@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_masks_are_truncated_and_their_mean_ratio_matches(ratio):
    g = torch.Generator().manual_seed(0)
    mask = truncated_mask(40_000, 10, switch_probability(ratio, 10), g)
    assert torch.all(mask[:, 1:] >= mask[:, :-1]), "once a step is an event frame, all later ones are"
    assert float(mask.mean()) == pytest.approx(ratio, abs=0.01)


def test_mixup_takes_source_before_the_switch_and_events_after():
    source, events = torch.zeros(64, 2, 4, 4, 10), torch.ones(64, 2, 4, 4, 10)
    mixed, mask, ratio = time_step_mixup(source, events, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(mixed[:, 0, 0, 0, :], mask), "MAG's target is exactly which frames are events"
    assert torch.equal(ratio, mask.mean(dim=1)), "MRP's target is the realised ratio"
    assert 0 < float(ratio.mean()) < 1


def test_schedules_rise_from_start_to_end():
    assert mix_ratio(0.0) == 0.0 and mix_ratio(1.0) == 1.0 and mix_ratio(0.5) == 0.5
    assert mix_ratio(0.5, "power", 3.0) == pytest.approx(0.125)
    assert mix_ratio(2.0, "linear", start=0.2, end=0.8) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="mix schedule"):
        mix_ratio(0.5, "cubic")


def test_cka_identical_is_one_independent_near_zero():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 30, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(30, 30, generator=g))
    assert float(linear_cka(x, x)) == pytest.approx(1.0, abs=1e-5)
    assert float(linear_cka(x, 3 * x @ rotation)) == pytest.approx(1.0, abs=1e-4)
    assert float(linear_cka(x, torch.randn(400, 20, generator=g))) < 0.1


def test_alignment_loss_is_zero_for_identical_streams_and_weights_learn():
    weights = StepWeights(5)
    x = torch.randn(16, 8, 5)
    assert float(weights.alignment_loss(x, x)) == pytest.approx(0.0, abs=1e-5)
    loss = weights.alignment_loss(x, torch.randn(16, 8, 5))
    loss.backward()
    assert weights.logits.grad is not None and torch.all(weights.logits.grad > 0)


def test_heads_read_per_step_and_pooled_features():
    features = torch.rand(4, 6, 10)
    assert ModalityHead(6)(features).shape == (4, 10)
    ratio = RatioHead(6)(features)
    assert ratio.shape == (4,) and torch.all((ratio > 0) & (ratio < 1))


def test_classification_prefers_the_right_class():
    labels = torch.tensor([0, 1])
    good = torch.zeros(2, 3, 5)
    good[0, 0], good[1, 1] = 1, 1
    bad = torch.zeros(2, 3, 5)
    bad[:, 2] = 1
    for mode in ("tet", "tet-spikes", "rate", "spike_rate"):  # tet reads currents: the same tensors here
        assert classification_loss(good, labels, currents=good, mode=mode) < classification_loss(
            bad, labels, currents=bad, mode=mode)


def test_tet_reads_currents_so_a_silent_output_still_learns():
    """Silent output spikes: spike CE is flat (ln K, no signal), current CE still ranks the classes."""
    labels = torch.tensor([0, 1])
    silent = torch.zeros(2, 3, 5)
    currents = torch.zeros(2, 3, 5, requires_grad=True)
    loss = classification_loss(silent, labels, currents=currents)
    loss.backward()
    assert float(loss) == pytest.approx(float(torch.log(torch.tensor(3.0))))
    assert currents.grad[0, 0].lt(0).all() and currents.grad[0, 1:].gt(0).all()  # raise the right class
    with pytest.raises(ValueError, match="currents"):
        classification_loss(silent, labels, mode="tet")


@pytest.mark.parametrize("name,terms", [
    ("tmkt", {"ce", "ce_event", "cka", "mag", "mrp"}),
    ("sliding-kt", {"ce", "ce_event", "cka"}),
    ("dvs-only", {"ce"}),
    ("rgb-pretrain", {"ce"}),
])
def test_every_method_gives_its_terms_and_gradients(name, terms):
    torch.manual_seed(0)
    net = build_model("scnn", num_classes=3, input_shape=(2, 8, 8), width=1 / 8)
    method = build_method(name, net, MethodConfig(), time_steps=4)
    rgb, dvs = torch.rand(4, 2, 8, 8, 4), (torch.rand(4, 2, 8, 8, 4) < 0.3).float() * 3
    result = method(rgb, dvs, torch.tensor([0, 1, 2, 0]), 0.5)
    assert set(result.terms) == terms and result.count == 4
    result.loss.backward()
    assert net.nodes["conv1"].synapse.weight.grad is not None


def test_switched_off_terms_are_not_built():
    net = build_model("scnn", num_classes=3, input_shape=(2, 8, 8), width=1 / 8)
    method = build_method("tmkt", net, MethodConfig(mag=0.0, cka=0.0), time_steps=4)
    assert method.mag is None and method.steps is None and method.mrp is not None
    result = method(torch.rand(2, 2, 8, 8, 4), torch.rand(2, 2, 8, 8, 4), torch.tensor([0, 1]), 0.3)
    assert set(result.terms) == {"ce", "ce_event", "mrp"}
