"""Issue 19: paired t intervals and their verdicts, best-validation selection with one test score, equal
step budgets, TMKT's core ablations (mixing masks at the same expected event share, separate heads, TET's
MSE term), the recipe/evidence grids, and default runs bit-identical to before these options existed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from test_train import ToyPairs, read_metrics, toy_config

from tmkt_sweep import build_grid
from tmkt_sweep.grid import ABLATION_VARIANTS, BASELINES, EVIDENCE_SEEDS, METHODS, RunSpec, Settings
from tmkt_sweep.paired import LOSS, TIE, WIN, paired_difference, verdict
from tmkt_sweep.runner import config_changes, run_one
from tmkt_sweep.table import comparisons, recipe_choice, recipe_rows, render_markdown, summarize
from tmkt_train.checkpoint import CHECKPOINT, Checkpoint, read_checkpoint
from tmkt_train.config import MIX_MODES, MethodConfig, TrainConfig
from tmkt_train.methods import build_method
from tmkt_train.methods.losses import classification_loss
from tmkt_train.methods.tsm import mix_mask
from tmkt_train.models import build_model
from tmkt_train.train.selection import BEST, FINAL, chosen_checkpoint, keep_if_best
from tmkt_train.train.trainer import evaluate, fit, learning_rate

torch.set_num_threads(1)
GOLDEN = Path(__file__).parent / "golden" / "default_runs.json"


class ToyWithVal(ToyPairs):
    """ToyPairs with a held-out validation split (other random events of the same classes)."""

    def validation(self):
        return ToyPairs(16, seed=7)


def weights_sha256(state: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().contiguous().numpy().tobytes())
    return h.hexdigest()


# --- paired statistics -------------------------------------------------------------------------------------

def test_t_interval_matches_a_hand_computed_case():
    # d = 1..5: mean 3, s = sqrt(2.5), s/sqrt(5) = 0.70711, t(0.975, 4) = 2.77645 -> half width 1.96324
    a = {s: 10.0 + d for s, d in enumerate([1, 2, 3, 4, 5])}
    b = {s: 10.0 for s in range(5)}
    diff = paired_difference(a, b)
    assert diff["n"] == 5 and diff["diffs"] == [1, 2, 3, 4, 5] and diff["mean"] == pytest.approx(3.0)
    assert diff["t_crit"] == pytest.approx(2.776445, abs=1e-6)
    assert (diff["low"], diff["high"]) == (pytest.approx(3 - 1.963243, abs=1e-5), pytest.approx(3 + 1.963243,
                                                                                                 abs=1e-5))
    assert diff["verdict"] == WIN
    # only the seeds both have are paired; fewer than two give no interval
    assert paired_difference({0: 1.0, 1: 2.0, 7: 9.0}, {0: 0.0, 1: 0.0, 3: 5.0})["seeds"] == [0, 1]
    assert paired_difference({0: 1.0}, {0: 0.0}) is None


def test_verdict_follows_the_interval():
    assert verdict(0.1, 3.0) == WIN and verdict(-3.0, -0.1) == LOSS and verdict(-1.0, 2.0) == TIE
    assert verdict(0.0, 2.0) == TIE  # touching zero is not a win
    # a big mean difference with a wide interval is no win
    noisy = paired_difference({0: 20.0, 1: -5.0, 2: 15.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert noisy["mean"] > 9 and noisy["low"] < 0 and noisy["verdict"] == TIE
    assert paired_difference({0: 1.0, 1: 2.0, 2: 1.5}, {0: 5.0, 1: 5.5, 2: 6.0})["verdict"] == LOSS


def fake_result(method: str, seed: int, acc: float, variant: str = "full") -> dict:
    group = f"vggsnn-{method}{'' if variant == 'full' else '-' + variant}-dvs10"
    return {"name": f"{group}-s{seed}", "group": group, "studies": ["evidence-methods"], "backbone": "vggsnn",
            "method": method, "variant": variant, "dvs_fraction": 0.1, "seed": seed, "epochs": 3,
            "settings": {"steps": 600}, "selection": {"epoch": 1}, "hardware": {"name": "cpu"},
            "check": {"lava": "skipped"}, "accuracy": {"float": acc, "deployed": acc},
            "spikes_per_sample": 1.0, "energy_j": 1e-6}


def test_table_pairs_each_method_with_each_baseline_by_seed():
    results = [fake_result("dvs-only", s, 0.60 + 0.01 * s) for s in range(5)]
    results += [fake_result("sliding-kt", s, 0.62 + 0.01 * s + (0.02 if s % 2 else -0.02)) for s in range(5)]
    results += [fake_result("tmkt", s, 0.70 + 0.01 * s + 0.001 * s * s) for s in range(5)]
    results += [fake_result("tmkt", s, 0.68 + 0.01 * s, "tsm-whole") for s in range(5)]
    compared = {(c["method"], c["variant"], c["against"]): c for c in comparisons(results)}
    assert set(compared) == {("sliding-kt", "full", "dvs-only"), ("tmkt", "full", "dvs-only"),
                             ("tmkt", "full", "sliding-kt"), ("tmkt", "tsm-whole", "tmkt full")}
    tmkt = compared[("tmkt", "full", "dvs-only")]
    assert tmkt["diffs"] == pytest.approx([10 + 0.1 * s * s for s in range(5)]) and tmkt["verdict"] == WIN
    assert compared[("sliding-kt", "full", "dvs-only")]["verdict"] == TIE
    assert compared[("tmkt", "tsm-whole", "tmkt full")]["verdict"] == LOSS
    md = render_markdown(summarize(results), comparisons(results))
    line = next(x for x in md.splitlines() if x.startswith("- vggsnn at 10 % DVS, tmkt vs dvs-only"))
    assert line.endswith(": win") and f"[{tmkt['low']:+.1f}, {tmkt['high']:+.1f}] (n = 5)" in line
    assert "Student t" in md and "| 600 |" in md


# --- selection on validation ------------------------------------------------------------------------------

def test_keep_if_best_keeps_the_first_best_epoch(tmp_path):
    best = None
    for epoch, score in enumerate([0.3, 0.5, 0.5, 0.4]):
        state = Checkpoint(train=TrainConfig(), num_classes=2, input_shape=(2, 8, 8), time_steps=4,
                           state_dict={"w": torch.full((2,), float(epoch))}, optimizer={"big": 1},
                           epoch=epoch, history=[{"epoch": epoch, "val_acc": score}])
        best = keep_if_best(tmp_path, state, state.metrics, best)
    kept = read_checkpoint(tmp_path / BEST)
    assert best == 0.5 and kept.epoch == 1 and kept.state_dict["w"].tolist() == [1.0, 1.0]
    assert kept.optimizer == {}  # weights to report, not a resumable state


def test_best_val_run_reports_the_best_epoch_and_tests_once(tmp_path):
    cfg = toy_config("tmkt", epochs=5)
    cfg.optim.lr_per_1024 = 3.0  # big steps: validation accuracy moves between epochs
    cfg.data.val_fraction, cfg.eval.select = 0.25, "best-val"
    test = ToyPairs(12, seed=1)
    fit(cfg, tmp_path, train_set=ToyWithVal(), test_set=test, device="cpu")
    lines = read_metrics(tmp_path)
    assert all("val_acc" in m and "test_acc" not in m for m in lines)  # epochs never see the test split
    scores = [m["val_acc"] for m in lines]
    final = json.loads((tmp_path / FINAL).read_text())
    assert final["epoch"] == scores.index(max(scores)) and final["val_acc"] == max(scores)
    assert final["checkpoint"] == BEST and chosen_checkpoint(tmp_path) == tmp_path / BEST
    best = read_checkpoint(tmp_path / BEST)
    assert best.epoch == final["epoch"] and read_checkpoint(tmp_path / CHECKPOINT).epoch == 4
    model = build_model("scnn", num_classes=4, input_shape=(2, 8, 8), width=cfg.model.width)
    model.load_state_dict(best.state_dict)
    again = evaluate(model, test, torch.device("cpu"), cfg.optim.batch_size)
    assert final["test_acc"] == again["test_acc"] and final["test_spikes_per_sample"] == pytest.approx(
        again["test_spikes_per_sample"])
    assert {"val_acc_spikes", "val_acc_current", "test_acc_current"} <= set(final)


def test_a_resumed_best_val_step_run_ends_like_an_uninterrupted_one(tmp_path):
    """10 steps of 3 an epoch, scored (and checkpointed) after the epochs passing steps 5 and 10: a crash
    after the unscored epoch 2 re-trains it from epoch 1's checkpoint and ends exactly as a straight run."""
    cfg = toy_config("tmkt", epochs=1)
    cfg.optim.lr_per_1024, cfg.optim.steps, cfg.eval.every_steps = 3.0, 10, 5
    cfg.data.val_fraction, cfg.eval.select = 0.25, "best-val"
    data = dict(train_set=ToyWithVal(), test_set=ToyPairs(12, seed=1))
    fit(cfg, tmp_path / "straight", device="cpu", **data)

    def crash(line):
        if line["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(cfg, tmp_path / "resumed", device="cpu", on_epoch_end=crash, **data)
    fit(cfg, tmp_path / "resumed", device="cpu", resume=True, **data)
    lines = [[{k: v for k, v in m.items() if k != "seconds"} for m in read_metrics(tmp_path / run)]
             for run in ("straight", "resumed")]
    assert lines[0] == lines[1] and [m["step"] for m in lines[0]] == [3, 6, 9, 10]
    assert [m["epoch"] for m in lines[0] if "val_acc" in m] == [1, 3]
    assert (tmp_path / "straight" / FINAL).read_text() == (tmp_path / "resumed" / FINAL).read_text()
    assert weights_sha256(read_checkpoint(tmp_path / "straight" / BEST).state_dict) == weights_sha256(
        read_checkpoint(tmp_path / "resumed" / BEST).state_dict)


def test_a_last_epoch_run_with_validation_tests_the_last_weights(tmp_path):
    cfg = toy_config("dvs-only", epochs=2)
    cfg.data.val_fraction = 0.25
    fit(cfg, tmp_path, train_set=ToyWithVal(), test_set=ToyPairs(12, seed=1), device="cpu")
    final = json.loads((tmp_path / FINAL).read_text())
    assert final["checkpoint"] == CHECKPOINT and final["epoch"] == 1 and not (tmp_path / BEST).exists()


def test_selection_needs_a_validation_split(tmp_path):
    cfg = toy_config("tmkt")
    cfg.eval.select = "best-val"
    with pytest.raises(ValueError, match="val_fraction"):
        fit(cfg, tmp_path, train_set=ToyPairs(), test_set=ToyPairs(12, seed=1), device="cpu")
    cfg.eval.select, cfg.loss.mix_mode = "last", "sometimes"
    with pytest.raises(ValueError, match="loss.mix_mode"):
        fit(cfg, tmp_path, train_set=ToyPairs(), test_set=ToyPairs(12, seed=1), device="cpu")


# --- equal optimiser steps --------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["dvs-only", "tmkt", "rgb-pretrain"])
def test_step_budget_gives_every_method_the_same_steps(tmp_path, method):
    cfg = toy_config(method, epochs=99)  # epochs are ignored under a step budget
    cfg.optim.steps = 7  # 24 pairs at batch 8: 3 steps an epoch -> 3 epochs of 3, 3 and 1 steps
    steps = []
    optimizer_step = torch.optim.AdamW.step

    def counted(self, *args, **kwargs):
        steps.append(1)
        return optimizer_step(self, *args, **kwargs)

    torch.optim.AdamW.step = counted
    try:
        fit(cfg, tmp_path, train_set=ToyPairs(), test_set=ToyPairs(12, seed=1), device="cpu")
    finally:
        torch.optim.AdamW.step = optimizer_step
    lines = read_metrics(tmp_path)
    assert len(steps) == 7 and [m["step"] for m in lines] == [3, 6, 7]
    # the schedule's progress is steps taken / budget: the last step is at 6/7 of a 3-epoch schedule
    cfg.optim.epochs = 3
    assert lines[-1]["lr"] == pytest.approx(learning_rate(6 / 7, cfg))


# --- TMKT's core ablations --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MIX_MODES)
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_every_mixing_mode_has_the_target_expected_event_share(mode, ratio):
    mask = mix_mask(40_000, 10, ratio, mode, torch.Generator().manual_seed(0))
    assert abs(mask.mean().item() - ratio) < 0.01
    switches = (mask[:, 1:] != mask[:, :-1]).sum(dim=1)
    if mode == "truncated":  # one switch at most, image → events
        assert switches.max() <= 1 and bool((mask[:, 1:] >= mask[:, :-1]).all())
    elif mode == "whole":  # every frame of a sequence from one modality
        assert switches.max() == 0
    else:  # independent steps switch back and forth
        assert switches.float().mean() > 1


def test_tmkt_mixes_with_the_configured_mode():
    model = build_model("scnn", num_classes=4, input_shape=(2, 8, 8), width=0.125)
    rgb, dvs = torch.zeros(64, 2, 8, 8, 10), torch.ones(64, 2, 8, 8, 10)
    for mode in MIX_MODES:
        method = build_method("tmkt", model, MethodConfig(mix_mode=mode), time_steps=10)
        torch.manual_seed(0)
        mixed, mask, ratio = method.mix(rgb, dvs, progress=0.5)
        assert torch.equal(mixed[:, 0, 0, 0, :], mask) and torch.equal(ratio, mask.mean(dim=1))
        assert ((mask[:, 1:] != mask[:, :-1]).sum(dim=1).max() == 0) == (mode == "whole")


def test_separate_heads_train_their_own_source_readout():
    model = build_model("scnn", num_classes=4, input_shape=(2, 8, 8), width=0.125)
    shared = build_method("tmkt", model, MethodConfig(), time_steps=4)
    assert shared.source_head is None
    method = build_method("tmkt", model, MethodConfig(heads="separate"), time_steps=4)
    data = ToyPairs(8, steps=4)
    result = method(data.rgb, data.dvs, data.labels, progress=0.5)
    result.loss.backward()
    head = method.source_head.weight
    assert head.grad is not None and head.grad.abs().sum() > 0
    assert head.data_ptr() != model.nodes[model.output].synapse.weight.data_ptr()


def test_tet_mse_adds_its_term():
    currents = torch.randn(4, 3, 5)
    labels = torch.tensor([0, 1, 2, 0])
    plain = classification_loss(currents, labels, currents=currents)
    with_mse = classification_loss(currents, labels, currents=currents, mse_weight=1e-3, threshold=1.25)
    assert with_mse.item() == pytest.approx(plain.item() + 1e-3 * ((currents - 1.25) ** 2).mean().item())


# --- grids ------------------------------------------------------------------------------------------------

def test_evidence_grids():
    runs = {r.name: r for r in build_grid("evidence")}
    assert {r.seed for r in runs.values()} == set(EVIDENCE_SEEDS) == set(range(5))
    assert {r.method for r in runs.values()} == set(METHODS) and set(BASELINES) <= set(METHODS)
    assert {r.dvs_fraction for r in runs.values() if r.backbone == "vggsnn"} == {0.05, 0.1, 0.25, 0.5, 1.0}
    for backbone in ("scnn", "vggsnn", "resnet18"):  # one step budget per backbone, for every method
        steps = {r.config().optim.steps for r in runs.values() if r.backbone == backbone}
        assert len(steps) == 1 and steps.pop() > 0
    cfg = runs["vggsnn-tmkt-dvs10-s4"].config()
    assert (cfg.eval.select, cfg.data.val_fraction) == ("best-val", 0.15)
    assert runs["vggsnn-tmkt-tsm-whole-dvs10-s0"].config().loss.mix_mode == "whole"
    assert runs["vggsnn-tmkt-tsm-per-step-dvs10-s0"].config().loss.mix_mode == "per-step"
    assert runs["vggsnn-tmkt-cubic-dvs10-s0"].config().loss.mix_schedule == "power"
    assert runs["vggsnn-tmkt-mag0.1-dvs10-s0"].config().loss.mag == 0.1
    assert runs["vggsnn-tmkt-separate-heads-dvs10-s0"].config().loss.heads == "separate"
    ablations = build_grid("ablations", seeds=2, only="*-tsm-*")
    assert [r.name for r in ablations] == ["vggsnn-tmkt-tsm-whole-dvs10-s0", "vggsnn-tmkt-tsm-whole-dvs10-s1",
                                           "vggsnn-tmkt-tsm-per-step-dvs10-s0",
                                           "vggsnn-tmkt-tsm-per-step-dvs10-s1"]
    assert len(build_grid("ablations")) == 5 * (1 + len(ABLATION_VARIANTS))
    recipe = build_grid("recipe", only="vggsnn-*-s0", steps=50)
    assert not any(r.deploy for r in recipe) and {r.settings.steps for r in recipe} == {50}
    assert not any(r.method == "dvs-only" and r.variant == "recipe-separate-heads" for r in recipe)
    with pytest.raises(ValueError, match="--seeds"):
        build_grid("full", seeds=5)


def test_old_results_are_not_stale_for_options_they_predate():
    from dataclasses import asdict

    spec = build_grid("full")[0]
    saved = json.loads(json.dumps(asdict(spec.config())))
    del saved["eval"], saved["optim"]["steps"], saved["loss"]["mix_mode"]
    assert config_changes(saved, spec) == []


# --- a recipe run end to end, and default runs unchanged --------------------------------------------------

@pytest.mark.usefixtures("fresh_memo")
def test_recipe_run_trains_and_selects_without_the_test_split(tmp_path, monkeypatch):
    import tmkt_train.data.build as build

    built = []
    real = build.build_split
    monkeypatch.setattr(build, "build_split", lambda data, seed, split: built.append(split) or
                        real(data, seed, split))
    settings = Settings(width=0.125, size=16, epochs=1, batch_size=16, steps=4, val_fraction=0.15,
                        select="best-val")
    spec = RunSpec("scnn", "tmkt", 0.1, 0, settings, variant="recipe-base", studies=("recipe",), deploy=False)
    result = run_one(spec, tmp_path, device="cpu")
    assert built == ["train"] and "accuracy" not in result
    assert not (tmp_path / "runs" / spec.name / "deploy").exists()
    sel = result["selection"]
    assert sel["checkpoint"] == BEST and sel["step"] == 4 and "test_acc" not in sel
    assert 0 <= sel["val_acc"] <= 1
    (row,) = recipe_rows([result])
    assert row["val_spikes"]["mean"] == pytest.approx(100 * sel["val_acc_spikes"])
    assert "| scnn | tmkt | base | 0 | 4 |" in render_markdown([], [], [row])


def test_recipe_choice_averages_every_candidate_over_the_same_methods():
    """A heads-only candidate is not run for single-stream dvs-only; its base score stands in, so a
    candidate cannot win by leaving out the weakest method."""
    def row(method: str, variant: str, acc: float) -> dict:
        return {"backbone": "vggsnn", "method": method, "variant": f"recipe-{variant}",
                "val_spikes": {"mean": acc}, "val_current": {"mean": 0.0}}
    rows = [row("dvs-only", "base", 60.0), row("tmkt", "base", 90.0), row("dvs-only", "lr0.3", 70.0),
            row("tmkt", "lr0.3", 88.0), row("tmkt", "separate-heads", 91.0)]
    (line,) = recipe_choice(rows)
    assert line.startswith("vggsnn: lr0.3 ") and "79.0 %" in line and "base: 75.0 %" in line


def test_default_runs_are_bit_identical_to_before_issue_19(tmp_path):
    """Seeded tiny CPU runs of every method with default settings reproduce the weights and metrics recorded
    before the options of issue 19 existed (tests/golden/default_runs.json, torch 2.3.1 on x86-64). Keys
    that metrics lines gained since (issue 18's `test_top5`) are checked to be there, then set aside."""
    golden = json.loads(GOLDEN.read_text())
    added_since = {"seconds", "test_top5"}
    for method, expected in golden.items():
        history = fit(toy_config(method), tmp_path / method, train_set=ToyPairs(),
                      test_set=ToyPairs(12, seed=1), device="cpu")
        assert all(0 <= m["test_top5"] <= 1 for m in history), method
        lines = [{k: v for k, v in m.items() if k not in added_since} for m in history]
        assert lines == expected["metrics"], method
        state = read_checkpoint(tmp_path / method / CHECKPOINT).state_dict
        assert weights_sha256(state) == expected["weights_sha256"], method
        assert not (tmp_path / method / FINAL).exists() and not (tmp_path / method / BEST).exists()


@pytest.mark.usefixtures("fresh_memo")
def test_evidence_run_exports_the_chosen_weights(tmp_path):
    """A best-val grid run deploys best.pt: the export's 8-bit model (what training runs) scores the test
    split exactly as the trainer's one test score of the chosen weights."""
    settings = Settings(width=0.125, size=16, epochs=1, batch_size=16, steps=6, val_fraction=0.15,
                        select="best-val")
    spec = RunSpec("scnn", "dvs-only", 0.1, 0, settings, studies=("evidence-methods",))
    result = run_one(spec, tmp_path, device="cpu", lava_samples=0)
    sel = result["selection"]
    assert sel["checkpoint"] == BEST and result["accuracy"]["train_eval"] == sel["test_acc"]
    assert result["accuracy"]["quantized"] == pytest.approx(sel["test_acc"])
    assert result["check"]["exact"] and summarize([result])[0]["chosen_epochs"] == [sel["epoch"] + 1]
