"""Protocol presets: each trains one epoch from the command line on a tree in its archive's layout, its
splits have the protocol's sizes, and --config / options override it; plus the pieces the presets need
(class-balanced sampler, rotation, top-5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from real_trees import write_cepdvs, write_ncaltech101, write_nomniglot
from typer.testing import CliRunner

from tmkt_train.cli import app
from tmkt_train.cli.fit import resolve_config
from tmkt_train.config import load_config
from tmkt_train.data.augment import RandomRotate
from tmkt_train.data.build import build_datasets
from tmkt_train.presets import list_presets, load_preset
from tmkt_train.train.distributed import Dist
from tmkt_train.train.sampling import ClassBalancedSampler
from tmkt_train.train.trainer import top_k_hits

pytestmark = pytest.mark.usefixtures("fresh_memo")  # tests/conftest.py
runner = CliRunner()


def fit_preset(preset: str, data_dir: Path, tmp_path: Path, extra_toml: str) -> tuple[dict, Path]:
    """`tmkt-train fit --preset NAME` for one epoch at a tiny width, without the data-driven init (a minute of
    CPU for VGGSNN), through a --config over the preset; returns (metrics line, run folder)."""
    config = tmp_path / "over.toml"
    config.write_text(f'[data]\ncache_dir = "{tmp_path / "cache"}"\n{extra_toml}[model]\ninit_rate = 0.0\n')
    out = tmp_path / "run"
    result = runner.invoke(app, ["fit", "--preset", preset, "--config", str(config), "--data-dir",
                                 str(data_dir), "--width", "0.0625", "--epochs", "1", "--device", "cpu",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 1 and 0 <= lines[0]["test_acc"] <= lines[0]["test_top5"] <= 1
    return lines[0], out


def split_sizes(out: Path) -> tuple[dict, dict]:
    """Per-class counts of the run's train and test splits, without the run's `limit` (the whole tree)."""
    cfg = load_config(out / "config.toml")
    cfg.data.limit = 0
    train, test = build_datasets(cfg.data, cfg.seed)
    return train.class_counts(), test.class_counts()


def test_presets_ship_and_load():
    assert list_presets() == ["cepdvs", "ncaltech101", "nomniglot"]
    for name in list_presets():
        resolve_config(None, name)  # every key is a known config key
    assert load_preset("ncaltech101")["model"]["backbone"] == "vggsnn"


def test_ncaltech101_preset(tmp_path):
    root = write_ncaltech101(tmp_path / "ncal", {"BACKGROUND_Google": 3, "Faces_easy": 10, "airplanes": 20},
                             {"Faces": 12, "airplanes": 22})
    line, out = fit_preset("ncaltech101", root, tmp_path, "size = 16\n")  # 48 takes minutes on a busy CPU
    cfg = load_config(out / "config.toml")
    assert (cfg.model.backbone, cfg.data.time_steps, load_preset("ncaltech101")["data"]["size"]) == \
        ("vggsnn", 10, 48)
    assert (cfg.data.sampler, cfg.data.crop_padding, cfg.optim.lr_per_1024) == ("balanced", 4, 0.005)
    assert (cfg.optim.batch_size, cfg.optim.warmup_epochs, cfg.model.width) == (120, 5.0, 0.0625)
    assert split_sizes(out) == ({"Faces_easy": 9, "airplanes": 18}, {"Faces_easy": 1, "airplanes": 2})


def test_cepdvs_preset(tmp_path):
    root = write_cepdvs(tmp_path / "cep", ("fish", "trees"), 352, events=40)  # 350, 351: past the protocol
    line, out = fit_preset("cepdvs", root, tmp_path, "size = 16\nlimit = 7\n")  # the epoch: 5 + 2 a class
    cfg = load_config(out / "config.toml")
    assert (cfg.model.backbone, cfg.data.time_steps, cfg.data.size) == ("resnet18", 6, 16)  # size overridden
    assert line["train_acc"] >= 0 and len(build_datasets(cfg.data, cfg.seed)[1]) == 4
    assert (cfg.data.flip, cfg.data.rotate_degrees, cfg.data.crop_padding) == (True, 15.0, 4)
    assert split_sizes(out) == ({"fish": 250, "trees": 250}, {"fish": 100, "trees": 100})


def test_nomniglot_preset(tmp_path):
    root = write_nomniglot(tmp_path / "nomni", ("character01", "character02"))
    line, out = fit_preset("nomniglot", root, tmp_path, "")
    cfg = load_config(out / "config.toml")
    assert (cfg.model.backbone, cfg.data.time_steps, cfg.data.size) == ("scnn", 12, 28)
    names = ("Latin/character01", "Latin/character02")
    assert split_sizes(out) == (dict.fromkeys(names, 15), dict.fromkeys(names, 5))


def test_unknown_preset_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["fit", "--preset", "imagenet", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "choose one of" in result.output and not (tmp_path / "run").exists()


def test_balanced_sampler_draws_classes_equally_and_shards():
    labels = torch.tensor([0] * 90 + [1] * 10)
    drawn = list(ClassBalancedSampler(labels, Dist(), seed=0))
    share = (labels[drawn] == 1).float().mean()
    assert len(drawn) == 100 and 0.35 < share < 0.65  # 10 % of the samples, ~half the draws
    ranks = [ClassBalancedSampler(labels, Dist(r, 2, r), seed=0) for r in (0, 1)]
    assert sorted(list(ranks[0]) + list(ranks[1])) == sorted(drawn)
    again = ClassBalancedSampler(labels, Dist(), seed=0)
    again.set_epoch(1)
    assert list(again) != drawn


def test_rotation_keeps_counts_integer_and_zero_degrees_is_identity():
    frames = torch.randint(0, 4, (3, 2, 12, 12, 5)).float()
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(RandomRotate(0.0)(frames, generator), frames)
    rotated = RandomRotate(15.0)(frames, generator)
    assert rotated.shape == frames.shape and torch.equal(rotated, rotated.round())
    assert torch.equal(rotated[..., 0].bool().float().sum() > 0, torch.tensor(True))


def test_top5_counts_a_label_among_the_five_most_spiking_classes():
    spikes = torch.zeros(2, 7, 3)
    spikes[0, :, 0] = torch.tensor([6, 5, 4, 3, 2, 1, 0])  # label 4 is 5th: a top-5 hit
    spikes[1, :, 0] = torch.tensor([6, 5, 4, 3, 2, 1, 0])  # label 5 is 6th: a miss
    assert top_k_hits(spikes, torch.tensor([4, 5]), 5) == 1
    assert top_k_hits(spikes, torch.tensor([0, 1]), 1) == 1  # top-1 is predict's argmax
