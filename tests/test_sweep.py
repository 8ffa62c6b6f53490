"""`tmkt-sweep`: the cpu-smoke grid end to end (train → loihi2-sim with Lava → energy → result.json),
reruns skip finished runs, the table assembles mean ± std over seeds; the full grid's definition; examples'
clear errors."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import support
import torch
from typer.testing import CliRunner

from tmkt_sweep import build_grid
from tmkt_sweep.cli import app
from tmkt_sweep.grid import Reference
from tmkt_sweep.runner import result_path

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("sweep")
    start_method = multiprocessing.get_start_method(allow_none=True)
    result = runner.invoke(app, ["--grid", "cpu-smoke", "--out", str(out), "--device", "cpu",
                                 "--lava-samples", "1", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    # the pool's spawned children left the start method unset (Lava, imported later, sets its own)
    assert multiprocessing.get_start_method(allow_none=True) == start_method
    return out


@pytest.mark.lava
def test_smoke_grid_writes_a_result_per_run(smoke):
    specs = build_grid("cpu-smoke")
    assert len(specs) == 4
    for spec in specs:
        doc = json.loads(result_path(smoke, spec).read_text())
        assert (doc["name"], doc["seed"], doc["method"]) == (spec.name, spec.seed, spec.method)
        assert doc["epochs"] == doc["config"]["optim"]["epochs"] == 1 and doc["config"]["seed"] == spec.seed
        assert doc["hardware"]["device"] == "cpu" and doc["hardware"]["name"] and doc["command"].startswith(
            "tmkt-sweep --grid cpu-smoke --device cpu")
        assert doc["wall_s"]["total"] > 0
        assert all(0 <= doc["accuracy"][k] <= 1 for k in ("float", "quantized", "deployed"))
        # the emulator reproduced the quantized model and Lava's fixed_pt run, spike for spike
        assert doc["check"]["exact"] and doc["check"]["lava"] == "ran" and doc["check"]["lava_samples"] == 1
        assert doc["check"]["samples"] > 100  # the whole ndigits test split
        assert doc["spikes_per_sample"] > 0 and doc["energy_j"] > 0 and doc["profile"] == "loihi2"
        assert (smoke / "runs" / spec.name / "deploy" / "check.json").exists()
        assert "epoch 1" in (smoke / "runs" / spec.name / "log.txt").read_text()  # a pool run's own log


@pytest.mark.lava
def test_rerun_skips_finished_runs(smoke):
    files = sorted((smoke / "runs").glob("*/result.json"))
    before = [f.stat().st_mtime_ns for f in files]
    result = runner.invoke(app, ["--grid", "cpu-smoke", "--out", str(smoke), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "skipped 4 run(s)" in result.output
    assert [f.stat().st_mtime_ns for f in files] == before


@pytest.mark.lava
def test_table_has_mean_and_std_over_seeds(smoke):
    rows = {r["group"]: r for r in json.loads((smoke / "results.json").read_text())["rows"]}
    assert set(rows) == {"scnn-dvs-only-dvs10", "scnn-tmkt-dvs10"}
    for group, row in rows.items():
        assert row["seeds"] == [0, 1]
        accs = [100 * json.loads((smoke / "runs" / f"{group}-s{s}" / "result.json").read_text())
                ["accuracy"]["deployed"] for s in (0, 1)]
        assert row["deployed_acc"]["mean"] == pytest.approx(np.mean(accs))
        assert row["deployed_acc"]["std"] == pytest.approx(np.std(accs, ddof=1))
        assert row["energy_uj"]["mean"] > 0
    md = (smoke / "results.md").read_text()
    assert "±" in md and "| scnn | tmkt | full | 10 | 0,1 | 1 |" in md and "TMKT" in md
    assert (smoke / "results.png").read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["--table-only", "--out", str(smoke)])
    assert result.exit_code == 0 and "results.md" in result.output


def test_full_grid_is_the_issue_grid():
    runs = build_grid("full")
    names = [r.name for r in runs]
    assert len(names) == len(set(names)) == 45 + 9 + 24  # methods; ablations (+ shared tmkt); fractions
    by_name = {r.name: r for r in runs}
    shared = by_name["scnn-tmkt-dvs10-s2"]  # in the method table and the DVS-fraction sweep, trained once
    assert set(shared.studies) == {"methods", "dvs-fraction"}
    assert by_name["vggsnn-tmkt-no-mrp-dvs10-s1"].config().loss.mrp == 0
    assert by_name["vggsnn-tmkt-no-cka-dvs10-s1"].config().loss.cka == 0
    assert by_name["scnn-dvs-only-dvs5-s0"].config().data.dvs_fraction == 0.05
    cfg = by_name["resnet18-sliding-kt-dvs10-s0"].config()
    assert (cfg.model.width, cfg.data.size, cfg.optim.batch_size) == (0.5, 48, 32)
    assert {r.seed for r in runs} == {0, 1, 2}
    only = build_grid("full", only="scnn-tmkt-*,resnet18-*-s0", epochs=3)
    assert len(only) == 5 * 3 + 5 and {r.settings.epochs for r in only} == {3}


def test_bad_options_fail_clearly(tmp_path):
    result = runner.invoke(app, ["--grid", "huge", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "huge" in result.output
    result = runner.invoke(app, ["--only", "alexnet-*", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "alexnet-*" in result.output
    result = runner.invoke(app, ["--table-only", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "result.json" in result.output
    assert not list(tmp_path.iterdir())
    damaged = tmp_path / "runs" / "scnn-tmkt-s0" / "result.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text('{"name": ')  # a run cut short while writing it
    result = runner.invoke(app, ["--table-only", "--out", str(tmp_path)])
    assert result.exit_code != 0 and f"{damaged}: not valid JSON" in " ".join(result.output.split())
    assert "delete it to rerun that run" in " ".join(result.output.split())


def test_byo_ncaltech101_names_the_missing_directory(tmp_path):
    missing = tmp_path / "no-such-dataset"
    with support.script_app(EXAMPLES / "byo_ncaltech101.py") as cli:
        result = runner.invoke(cli, ["--data-dir", str(missing), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "no-such-dataset" in result.output and "N-Caltech101" in result.output
    assert not (tmp_path / "out").exists()


def test_a_result_trained_with_other_settings_is_stale():
    """A result.json whose config differs from the grid's (e.g. another readout) is retrained, not kept."""
    from dataclasses import asdict

    from tmkt_sweep.runner import config_changes

    spec = build_grid("cpu-smoke")[0]
    saved = json.loads(json.dumps(asdict(spec.config())))
    assert config_changes(saved, spec) == []
    saved["loss"]["cls_mode"] = "tet-spikes"
    saved["optim"]["epochs"] = 30
    assert config_changes(saved, spec) == [f"loss.cls_mode: 'tet-spikes' → {spec.config().loss.cls_mode!r}",
                                           "optim.epochs: 30 → 1"]
    del saved["data"]["sampler"], saved["loss"]["kd"]  # knobs added after the run, at defaults: not stale
    assert len(config_changes(saved, spec)) == 2


def test_energy_grid_budgets_are_fractions_of_the_same_seeds_unregularised_energy():
    runs = build_grid("energy")
    assert len({r.name for r in runs}) == len(runs) == 3 * 6 * 3  # backbones × (free, ft, 4 budgets) × seeds
    first_budgeted = next(i for i, r in enumerate(runs) if r.budget)
    assert all(not r.budget for r in runs[:first_budgeted]) and all(r.budget for r in runs[first_budgeted:])
    spec = next(r for r in runs if r.name == "vggsnn-tmkt-dvs10-e50-s2")
    assert spec.reference.name == "vggsnn-tmkt-dvs10-e-free-s2" and spec.settings.epochs == 20
    assert (spec.settings.width, spec.settings.size, spec.settings.batch_size) == (0.5, 48, 32)
    cfg = spec.config(Reference(40_000.0, "/runs/free/checkpoint.pt"))
    assert cfg.loss.energy_budget_uj == 20_000.0 and cfg.loss.energy == pytest.approx(2 / 20_000)
    # a fine-tune of the reference's checkpoint, half as long, at its learning rate
    free = spec.reference.config()
    assert free.loss.energy == 0 and not free.model.init_from
    assert cfg.model.init_from == "/runs/free/checkpoint.pt" and cfg.optim.epochs == 10
    assert cfg.optim.lr_per_1024 == free.optim.lr_per_1024
    with pytest.raises(ValueError, match="e-free-s2"):
        spec.config()
    control = next(r for r in runs if r.name == "vggsnn-tmkt-dvs10-e-ft-s2")  # the fine-tune alone
    same = control.config(Reference(40_000.0, "/runs/free/checkpoint.pt"))
    assert same.loss.energy == 0 and same.model.init_from == cfg.model.init_from
    assert same.optim == cfg.optim


@pytest.mark.lava
def test_energy_smoke_grid_fine_tunes_each_budget_from_its_reference(tmp_path):
    """The energy pipeline end to end on tiny CPU runs: budgeted runs wait for their reference, start from
    its deployed checkpoint, and the frontier table is written."""
    result = runner.invoke(app, ["--grid", "energy-cpu-smoke", "--out", str(tmp_path), "--device", "cpu",
                                 "--lava-samples", "0", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    specs = build_grid("energy-cpu-smoke")
    docs = {s.name: json.loads(result_path(tmp_path, s).read_text()) for s in specs}
    free = next(s for s in specs if not s.budget)
    checkpoint = str((tmp_path / "runs" / free.name / "train" / "checkpoint.pt").resolve())
    for spec in specs:
        doc = docs[spec.name]
        assert doc["check"]["exact"] and doc["energy_j"] > 0
        if spec.budget:
            assert doc["config"]["model"]["init_from"] == checkpoint
            assert doc["energy_budget_uj"] == pytest.approx(spec.budget * docs[free.name]["train_energy_uj"])
    assert (tmp_path / "results.md").exists() and "budget" in (tmp_path / "results.md").read_text()
    again = runner.invoke(app, ["--grid", "energy-cpu-smoke", "--out", str(tmp_path), "--device", "cpu",
                                "--lava-samples", "0"])
    assert again.exit_code == 0 and f"skipped {len(specs)} run(s)" in again.output


def _fake_result(backbone: str, budget: float, seed: int, acc: float, loihi2_uj: float) -> dict:
    energies = {"loihi2": loihi2_uj, "loihi1": loihi2_uj, "snn-45nm-paper": loihi2_uj / 30,
                "ann-45nm": 2.0, "ann-int8-45nm": 0.1}
    return {"group": f"{backbone}-e{budget}", "backbone": backbone, "budget_fraction": budget, "seed": seed,
            "epochs": 3, "accuracy": {"deployed": acc}, "check": {"exact": True},
            "train_energy_uj": loihi2_uj,
            "energy_by_profile_j": {p: {"isolated": e * 1e-6, "streaming": e * 1e-6}
                                    for p, e in energies.items()}}


def test_frontier_marks_pareto_points_and_states_the_goal():
    from tmkt_sweep.frontier import frontier_rows, render_markdown, render_png, verdicts

    results = [_fake_result("scnn", 0.0, s, 0.90, 100.0) for s in (0, 1)]
    results += [_fake_result("scnn", 0.5, s, 0.895, 45.0) for s in (0, 1)]  # goal: ≤ 50 %, ≤ 1 point lower
    results += [_fake_result("scnn", 0.7, s, 0.85, 60.0) for s in (0, 1)]  # dominated by budget 0.5
    results += [_fake_result("scnn", 1.0, s, 0.90, 95.0) for s in (0, 1)]  # the fine-tune alone
    rows = {r["budget"]: r for r in frontier_rows(results)}
    pareto = {budget: row["pareto"]["loihi2"] for budget, row in rows.items()}
    assert pareto == {0.0: False, 1.0: True, 0.5: True, 0.7: False}
    assert rows[0.5]["deployed_acc"] == {"mean": pytest.approx(89.5), "std": 0.0}
    said = "\n".join(verdicts(list(rows.values())))
    assert "against the same fine-tune without the energy term" in said
    assert "reached by budget 0.5" in said and "loihi2 never beats it" in said
    # under the papers' convention (1/30 of the energy here) budget 0.5's 1.5 µJ is below the fp32 ANN's 2
    assert "vs ann-45nm (2 µJ): loihi2 never beats it; loihi1 never beats it; snn-45nm-paper beats it at " \
           "budget(s) ['0.5']" in said
    # paired per seed with the same seed's unregularised run and fine-tune alone: -0.5 points on both seeds
    vs = rows[0.5]["vs"]
    assert vs["free"]["acc"]["mean"] == pytest.approx(-0.5) and vs["free"]["acc"]["n"] == 2
    assert vs["free"]["loihi2_ratio"]["mean"] == pytest.approx(0.45)
    assert vs["ft"]["loihi2_ratio"]["mean"] == pytest.approx(45 / 95)
    assert "vs" not in rows[0.0] and set(rows[1.0]["vs"]) == {"free"}
    assert "paired accuracy change -0.5 points" in said
    markdown = render_markdown(list(rows.values()))
    assert "**45.000 ± 0.000**" in markdown
    assert "| -0.5 [-0.5, -0.5] | -0.5 [-0.5, -0.5] | 45% | 47% |" in markdown
    assert "| scnn | fine-tune only |" in markdown
    assert render_png(list(rows.values()))[:4] == b"\x89PNG"


def test_an_unfinished_run_trained_with_other_settings_is_stale(tmp_path):
    """An interrupted grid run (training, no result.json) whose recorded config differs from the grid's is
    retrained from scratch, not resumed (resume would refuse it, or stretch its schedule)."""
    from tmkt_sweep.runner import unfinished_changes
    from tmkt_train.config import save_config

    spec = build_grid("cpu-smoke")[0]
    run_dir = tmp_path / "runs" / spec.name
    assert unfinished_changes(run_dir, spec, None) == []
    cfg = spec.config()
    save_config(cfg, run_dir / "train" / "config.toml")  # crashed before its first epoch ended
    assert unfinished_changes(run_dir, spec, None) == []
    cfg.optim.epochs += 1
    save_config(cfg, run_dir / "train" / "config.toml")
    assert unfinished_changes(run_dir, spec, None) == [
        f"optim.epochs: {cfg.optim.epochs} → {cfg.optim.epochs - 1}"]
