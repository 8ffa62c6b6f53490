"""`[model] init_from` / `fit --init-from`: a run starts from another run's weights (and its heads when the
method matches), and a checkpoint of another network is refused naming the file and what differs."""

from __future__ import annotations

import pytest
import torch
from test_train import ToyPairs, toy_config

from tmkt_common.errors import ConfigError
from tmkt_train.checkpoint import CHECKPOINT, read_checkpoint
from tmkt_train.train.trainer import fit


def _fit(cfg, out):
    return fit(cfg, out, train_set=ToyPairs(), test_set=ToyPairs(seed=1), device="cpu")


def test_a_run_starts_from_the_given_checkpoints_weights_and_heads(tmp_path):
    history = _fit(toy_config("tmkt", epochs=2), tmp_path / "source")
    source = read_checkpoint(tmp_path / "source" / CHECKPOINT)
    cfg = toy_config("tmkt", epochs=1)
    cfg.model.init_from = str(tmp_path / "source" / CHECKPOINT)
    cfg.optim.lr_per_1024, cfg.optim.min_lr = 0.0, 0.0  # no update: the weights must come through unchanged
    tuned = _fit(cfg, tmp_path / "tuned")
    copy = read_checkpoint(tmp_path / "tuned" / CHECKPOINT)
    assert copy.state_dict.keys() == source.state_dict.keys() and copy.heads.keys() == source.heads.keys()
    for part in ("state_dict", "heads"):
        for key, value in getattr(source, part).items():
            assert torch.equal(getattr(copy, part)[key], value), key
    assert tuned[-1]["test_acc"] == history[-1]["test_acc"]  # the same network scores the same
    fresh = toy_config("tmkt", epochs=1)
    fresh.optim.lr_per_1024, fresh.optim.min_lr = 0.0, 0.0
    _fit(fresh, tmp_path / "fresh")  # without init_from: its own seeded init, not the source's
    other = read_checkpoint(tmp_path / "fresh" / CHECKPOINT).state_dict
    assert any(not torch.equal(other[k], v) for k, v in source.state_dict.items())


def test_a_checkpoint_of_another_network_is_refused_naming_it(tmp_path):
    _fit(toy_config("dvs-only", epochs=1), tmp_path / "source")
    cfg = toy_config("dvs-only", epochs=1)
    cfg.model.width = 1 / 4
    cfg.model.init_from = str(tmp_path / "source" / CHECKPOINT)
    with pytest.raises(ConfigError, match=r"model.init_from .*checkpoint.pt: not this run's network: "
                                          r"width 0.25 \(it has 0.125\)"):
        _fit(cfg, tmp_path / "tuned")
