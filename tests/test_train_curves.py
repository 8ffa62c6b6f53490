"""Every fit draws curves.png after its first and last epochs (atomically; every ~30 s between them);
--tensorboard logs the same scalars."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import imread
from test_train import ToyPairs, toy_config

from tmkt_train.train.curves import CURVES, TensorBoardLog, curves_figure, loss_terms
from tmkt_train.train.trainer import fit


def _labels(ax) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def test_every_epoch_redraws_curves_next_to_the_metrics(tmp_path):
    seen = []
    fit(toy_config("tmkt"), tmp_path, train_set=ToyPairs(), test_set=ToyPairs(seed=1), device="cpu",
        on_epoch_end=lambda line: seen.append((tmp_path / CURVES).stat().st_mtime_ns))
    assert len(seen) == 2 and seen[1] >= seen[0]
    image = imread(tmp_path / CURVES)
    assert image.ndim == 3 and image.shape[0] > 400 and image.shape[1] > 800
    assert np.ptp(image[..., :3]) > 0.5  # drawn, not blank
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp left
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    fig = curves_figure(lines)
    losses, accuracy, spikes, dvs, lr = fig.axes[:5]
    assert {"loss", "ce", "ce_event", "cka", "mag", "mrp"} <= set(_labels(losses))
    assert _labels(accuracy) == ["train_acc", "test_acc"]
    assert _labels(spikes) == ["spikes_per_sample", "test_spikes_per_sample"]
    assert _labels(dvs) == ["dvs_ratio"] and _labels(lr) == ["lr"]
    y = accuracy.lines[1].get_ydata()
    assert list(y) == [line["test_acc"] for line in lines]


def test_val_acc_and_energy_are_drawn_when_present():
    lines = [{"epoch": e, "lr": 0.1, "train_acc": 0.5, "val_acc": 0.4, "test_acc": 0.3, "ce": 1.0,
              "energy": 0.2, "energy_uj": 3.0, "dvs_ratio": 0.5, "spikes_per_sample": 10.0,
              "val_spikes_per_sample": 9.0, "phase": "paired", "seconds": 1.0} for e in range(2)]
    fig = curves_figure(lines)
    assert _labels(fig.axes[1]) == ["train_acc", "val_acc", "test_acc"]
    assert loss_terms(lines) == ["ce", "energy"] and _labels(fig.axes[5]) == ["energy_uj"]
    bookkeeping = [{**line, "step": 100 * line["epoch"], "teacher_train_acc": 0.9} for line in lines]
    assert loss_terms(bookkeeping) == ["ce", "energy"]  # a step budget's count and CKD's teacher score


def test_tensorboard_logs_every_scalar_per_epoch(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = TensorBoardLog(tmp_path)
    history = fit(toy_config("dvs-only"), tmp_path, train_set=ToyPairs(), test_set=ToyPairs(seed=1),
                  device="cpu", on_epoch_end=board)
    board.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"test_acc", "train_acc", "lr", "dvs_ratio", "spikes_per_sample", "ce"} <= tags
    logged = events.Scalars("test_acc")
    assert [e.step for e in logged] == [1, 2]
    assert [e.value for e in logged] == pytest.approx([line["test_acc"] for line in history])
