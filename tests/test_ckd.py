"""CKD: the phase weight W, the KD term, the ANN teacher (registry backbones with ReLU, cached by hash), and a
tiny real run on ndigits that trains, resumes like an uninterrupted run and exports spike-exact."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tmkt_train.checkpoint import load_model
from tmkt_train.config import TrainConfig
from tmkt_train.data.build import build_datasets
from tmkt_train.methods import MethodConfig, build_method
from tmkt_train.methods.ckd import distill_weight, kd_loss
from tmkt_train.models import build_model
from tmkt_train.models.ann import AnnNet
from tmkt_train.train.trainer import fit

pytestmark = pytest.mark.usefixtures("fresh_memo")  # tests/conftest.py


@pytest.mark.parametrize("k,s", [(10.0, 0.5), (4.0, 0.3), (25.0, 0.8)])
def test_phase_weight_decreases_and_crosses_half_at_s(k, s):
    progress = np.linspace(0, 1, 201)
    w = np.array([distill_weight(p, k, s) for p in progress])
    assert np.all(np.diff(w) < 0) and w[0] > 0.5 > w[-1]
    assert distill_weight(s, k, s) == 0.5
    assert distill_weight(s - 1e-3, k, s) > 0.5 > distill_weight(s + 1e-3, k, s)
    assert distill_weight(1e6, k, s) == 0.0  # no overflow far past s


def test_kd_is_zero_for_equal_logits_and_positive_otherwise():
    logits = torch.randn(6, 5)
    assert kd_loss(logits, logits.clone(), 4.0).abs() < 1e-6
    student = torch.zeros(6, 5, requires_grad=True)
    loss = kd_loss(student, logits, 2.0)
    assert loss > 0
    loss.backward()
    # the gradient pushes the student's softened distribution towards the teacher's
    assert torch.allclose(student.grad, -(torch.softmax(logits / 2, 1) - 0.2) * 2 / 6, atol=1e-6)


@pytest.mark.parametrize("backbone", ["scnn", "vggsnn", "resnet18"])
def test_teacher_is_the_backbone_with_relu_and_float_weights(backbone):
    torch.manual_seed(0)
    net = build_model(backbone, num_classes=3, input_shape=(2, 16, 16), width=1 / 8)
    teacher = AnnNet(net)
    images = torch.rand(4, 2, 16, 16)
    logits = teacher(images)
    assert logits.shape == (4, 3) and logits.std() > 0
    logits.sum().backward()
    assert all(p.grad is not None for p in teacher.parameters() if p.requires_grad)


def test_ckd_gives_its_terms_and_never_trains_the_teacher():
    torch.manual_seed(0)
    net = build_model("scnn", num_classes=3, input_shape=(2, 8, 8), width=1 / 8)
    method = build_method("ckd", net, MethodConfig(), time_steps=4)
    teacher = AnnNet(build_model("scnn", num_classes=3, input_shape=(2, 8, 8), width=1 / 8))
    teacher.requires_grad_(False)
    rgb, dvs = torch.rand(4, 2, 8, 8, 4), (torch.rand(4, 2, 8, 8, 4) < 0.3).float() * 3
    with pytest.raises(RuntimeError, match="teacher"):
        method(rgb, dvs, torch.tensor([0, 1, 2, 0]), 0.1)
    method.set_teacher(teacher)
    early, late = (method(rgb, dvs, torch.tensor([0, 1, 2, 0]), p) for p in (0.0, 1.0))
    assert set(early.terms) == {"ce", "ce_event", "cka", "kd"}
    assert early.terms["kd"] > 100 * late.terms["kd"]  # W(0) ≈ 0.99, W(1) ≈ 0.007
    assert not any(k.startswith("teacher") for k in method.state_dict())


def ckd_config(tmp_path) -> TrainConfig:
    cfg = TrainConfig(method="ckd")
    cfg.data.size, cfg.data.time_steps, cfg.data.limit = 16, 6, 12
    cfg.data.cache_dir = str(tmp_path / "cache")
    cfg.model.width, cfg.optim.epochs, cfg.optim.batch_size = 0.25, 3, 16
    cfg.loss.teacher_epochs = 2
    return cfg


def test_ckd_on_ndigits_trains_resumes_and_exports_spike_exact(tmp_path):
    from tmkt_deploy.export import export_checkpoint

    cfg = ckd_config(tmp_path)
    train, test = build_datasets(cfg.data, cfg.seed)
    straight = fit(cfg, tmp_path / "straight", train_set=train, test_set=test, device="cpu")
    teachers = list((tmp_path / "cache" / "teachers").glob("*.pt"))
    assert len(teachers) == 1 and all("kd" in m and "teacher_train_acc" in m for m in straight)
    assert straight[0]["kd"] > 0 and straight[-1]["loss"] < straight[0]["loss"]

    def crash_after_first(line):
        if line["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(cfg, tmp_path / "resumed", train_set=train, test_set=test, device="cpu",
            on_epoch_end=crash_after_first)
    teachers[0].unlink()  # re-derived from the same data and seed, bit for bit
    resumed = fit(cfg, tmp_path / "resumed", train_set=train, test_set=test, device="cpu", resume=True)
    for a, b in zip(straight, resumed, strict=True):
        a.pop("seconds"), b.pop("seconds")
        assert a == b
    sa = load_model(tmp_path / "straight" / "checkpoint.pt")[0].state_dict()
    sb = load_model(tmp_path / "resumed" / "checkpoint.pt")[0].state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

    check = export_checkpoint(tmp_path / "straight" / "checkpoint.pt", target="loihi2-sim",
                              out=tmp_path / "deploy", lava_samples=2)
    assert check.exact, json.dumps(check.__dict__, default=str)[:500]
