"""`data.val_fraction` (a seeded, stratified validation hold-out scored every epoch) and `data.augment`
(per-sample flip + translation of training batches), on real ndigits runs and synthetic batches."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from tmkt_train.checkpoint import load_model
from tmkt_train.cli import app
from tmkt_train.config import TrainConfig
from tmkt_train.data import DatasetError, build_dataset
from tmkt_train.data.augment import Compose, RandomFlipLR, RandomTranslate, train_augmentation
from tmkt_train.data.build import build_datasets
from tmkt_train.train.evaluate import evaluate_run
from tmkt_train.train.trainer import evaluate, fit, summary

torch.set_num_threads(1)
LIMIT = 20  # digits per class: 16 train + 4 test


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache")
    build_dataset("ndigits", "train", cache_dir=path, limit=LIMIT, time_steps=4, size=16)
    return path


def digits(split, cache, **kw):
    return build_dataset("ndigits", split, cache_dir=cache, limit=LIMIT, time_steps=4, size=16, **kw)


def tiny_config(cache, **data) -> TrainConfig:
    cfg = TrainConfig(method="tmkt")
    cfg.data.size, cfg.data.time_steps, cfg.data.limit, cfg.data.cache_dir = 16, 4, LIMIT, str(cache)
    for key, value in data.items():
        setattr(cfg.data, key, value)
    cfg.model.width, cfg.optim.epochs, cfg.optim.batch_size = 0.25, 2, 16
    return cfg


def run(cfg: TrainConfig, out) -> list[dict]:
    train, test = build_datasets(cfg.data, cfg.seed)
    return [{k: v for k, v in line.items() if k != "seconds"}
            for line in fit(cfg, out, train_set=train, test_set=test, device="cpu")]


def ids(dataset) -> set[int]:
    return set(dataset.indices.tolist())


def test_val_split_is_a_seeded_stratified_hold_out_of_train(cache):
    full, test = digits("train", cache), digits("test", cache)
    train, val = digits("train", cache, val_fraction=0.25), digits("val", cache, val_fraction=0.25)
    assert all(n == 16 for n in full.class_counts().values())
    assert all(n == 4 for n in val.class_counts().values())
    assert all(n == 12 for n in train.class_counts().values())
    assert ids(train) | ids(val) == ids(full) and not ids(train) & ids(val)
    assert ids(train.validation()) == ids(val)
    assert ids(digits("test", cache, val_fraction=0.25)) == ids(test)  # the test split never changes
    assert ids(digits("val", cache, val_fraction=0.25)) == ids(val)  # same seed, same split
    assert ids(digits("val", cache, val_fraction=0.25, seed=1)) != ids(val)
    few = digits("train", cache, val_fraction=0.25, dvs_fraction=0.5)  # fraction of what is left
    assert ids(few) < ids(train) and all(n == 6 for n in few.class_counts().values())
    assert torch.equal(val.events(torch.arange(3)), torch.stack([val[i][1] for i in range(3)]))


@pytest.mark.parametrize(("fraction", "message"), [
    (1.0, r"data.val_fraction must be in \[0, 1\), got 1.0"),
    (-0.1, r"data.val_fraction must be in \[0, 1\), got -0.1"),
    (0.01, r"data.val_fraction=0.01 holds out none of class '0'.s 16 training event sample\(s\); use at "
           r"least 0.0625"),
    (0.99, r"data.val_fraction=0.99 holds out all 16 training event sample\(s\) of class '0'"),
])
def test_bad_val_fraction_is_one_clear_error(cache, fraction, message):
    with pytest.raises(DatasetError, match=message):
        digits("train", cache, val_fraction=fraction)


def test_fit_cli_rejects_a_bad_val_fraction_and_writes_nothing(tmp_path):
    result = CliRunner().invoke(app, ["fit", "--val-fraction", "1.5", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "data.val_fraction must be in [0, 1)" in result.output
    assert not (tmp_path / "run").exists()


def test_val_is_scored_each_epoch_reproducibly_and_eval_still_measures_test(cache, tmp_path):
    """With a validation split, epochs are scored on it alone; the test split once, after training
    (final.json, on the last epoch's weights by default), and `tmkt-train eval` agrees with that score."""
    cfg = tiny_config(cache, val_fraction=0.25)
    lines = run(cfg, tmp_path / "a")
    assert lines == run(cfg, tmp_path / "b")
    assert all({"val_acc", "val_spikes_per_sample"} <= set(line) and "test_acc" not in line for line in lines)
    assert f"val acc (DVS) {lines[-1]['val_acc']:.3f} | dvs ratio" in summary({**lines[-1], "seconds": 1})
    model, _ = load_model(tmp_path / "a" / "checkpoint.pt")
    train, test = build_datasets(cfg.data, cfg.seed)
    rescored = evaluate(model, train.validation(), torch.device("cpu"), split="val")
    assert rescored == {k: lines[-1][k] for k in ("val_acc", "val_top5", "val_spikes_per_sample")}
    final = json.loads((tmp_path / "a" / "final.json").read_text())
    again = evaluate_run(tmp_path / "a", "cpu")
    assert again["test_samples"] == len(test) and again["test_acc"] == final["test_acc"]


def test_default_run_has_no_val_and_no_augmentation(cache, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(Compose, "__call__", lambda self, frames, generator: calls.append(1) or frames)
    lines = run(tiny_config(cache), tmp_path / "run")
    assert not calls and not any(k.startswith("val_") for line in lines for k in line)
    written = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in m.items() if k != "seconds"} for m in written] == lines


def test_evaluate_reads_events_batch_by_batch_like_a_dataloader_pass(cache):
    """The event-only evaluation scores exactly what iterating the paired items did."""
    from tmkt_train.models import build_model, predict

    test = digits("test", cache)
    torch.manual_seed(0)
    model = build_model("scnn", num_classes=10, input_shape=(2, 16, 16), width=0.25).eval()
    correct = spikes = 0.0
    with torch.no_grad():
        for _, dvs, labels in torch.utils.data.DataLoader(test, batch_size=16):
            out = model(dvs)
            correct += float((predict(out.spikes) == labels).sum())
            spikes += float(out.total_spikes)
    result = evaluate(model, test, torch.device("cpu"), batch_size=16)
    result.pop("test_top5")  # tests/test_presets.py checks it
    assert result == {"test_acc": correct / len(test), "test_spikes_per_sample": spikes / len(test)}


def test_augment_trains_on_transformed_batches_reproducibly_never_at_evaluation(cache, tmp_path, monkeypatch):
    shapes = []
    original = Compose.__call__

    def spy(self, frames, generator):
        shapes.append(tuple(frames.shape))
        return original(self, frames, generator)

    monkeypatch.setattr(Compose, "__call__", spy)
    cfg = tiny_config(cache, augment=True, val_fraction=0.25)
    lines = run(cfg, tmp_path / "a")
    batches_per_epoch = -(-12 * 10 // cfg.optim.batch_size)  # 12 training samples per class after val
    assert len(shapes) == 2 * 2 * batches_per_epoch  # rgb and dvs, every training batch, nothing else
    assert lines == run(cfg, tmp_path / "b")
    plain = run(tiny_config(cache, val_fraction=0.25), tmp_path / "plain")
    assert lines[0]["loss"] != plain[0]["loss"]


def synthetic(batch: int = 32, size: int = 8, steps: int = 3) -> torch.Tensor:
    return torch.rand(batch, 2, size, size, steps, generator=torch.Generator().manual_seed(1)) + 0.1


def shifted(frames: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Reference: content moves by (dy, dx), zeros come in (frames `(C, H, W, T)`)."""
    out = torch.zeros_like(frames)
    h, w = frames.shape[1:3]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        frames[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_flip_mirrors_whole_samples_independently():
    x, gen = synthetic(), torch.Generator().manual_seed(0)
    assert torch.equal(RandomFlipLR(p=1.0)(x, gen), torch.flip(x, dims=[3]))
    assert torch.equal(RandomFlipLR(p=0.0)(x, gen), x)
    out = RandomFlipLR()(x, gen)
    flipped = [torch.equal(o, torch.flip(s, dims=[2])) for o, s in zip(out, x, strict=True)]
    kept = [torch.equal(o, s) for o, s in zip(out, x, strict=True)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True)) and 0 < sum(flipped) < len(x)


def test_translate_moves_each_sample_by_one_offset_for_all_steps():
    x, pad = synthetic(), 2
    out = RandomTranslate(pad)(x, torch.Generator().manual_seed(0))
    offsets = []
    for o, s in zip(out, x, strict=True):
        matches = [(dy, dx) for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)
                   if torch.equal(o, shifted(s, dy, dx))]
        assert len(matches) == 1  # one shift explains every channel and time step of the sample
        offsets.append(matches[0])
    assert len(set(offsets)) > 5  # drawn per sample
    dot = torch.zeros(1, 2, 8, 8, 3)
    dot[0, :, 3, 5] = torch.tensor([1.0, 2.0, 3.0])  # one pixel, a different value at each step
    moved = RandomTranslate(pad)(dot, torch.Generator().manual_seed(3))
    where = moved[0, 0].sum(-1).nonzero().tolist()
    assert len(where) == 1 and abs(where[0][0] - 3) <= pad and abs(where[0][1] - 5) <= pad
    assert moved[0, :, where[0][0], where[0][1]].tolist() == [[1.0, 2.0, 3.0]] * 2


def test_train_augmentation_scales_the_pad_and_is_seeded():
    assert [t.pad for t in (train_augmentation(48).transforms[1], train_augmentation(16).transforms[1],
                            train_augmentation(96).transforms[1])] == [4, 1, 8]
    x, augment = synthetic(), train_augmentation(8)
    a, b = (augment(x, torch.Generator().manual_seed(5)) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, augment(x, torch.Generator().manual_seed(6)))
