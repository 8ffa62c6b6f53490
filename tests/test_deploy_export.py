"""The export as functions: the same test set as `tmkt-train eval` (data.limit included), all-or-nothing
output folders, one onnxruntime session per export. A tiny SCNN on 2 ndigits samples per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from tmkt_deploy import export
from tmkt_deploy.check import predict_counts
from tmkt_train.checkpoint import CHECKPOINT, Checkpoint, write_checkpoint
from tmkt_train.config import DataConfig, ModelConfig, TrainConfig
from tmkt_train.data.build import build_datasets
from tmkt_train.models import build_model
from tmkt_train.train.evaluate import evaluate_run

LIMIT = 2  # event samples per class: 20 digits in all, far fewer than ndigits' full test split


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, TrainConfig]:
    """A run folder as `tmkt-train fit` leaves it, trained with `data.limit`."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(data=DataConfig(dataset="ndigits", time_steps=4, size=16, limit=LIMIT,
                                      cache_dir=str(folder / "cache")),
                      model=ModelConfig(backbone="scnn", width=0.0625))
    model = build_model("scnn", num_classes=10, input_shape=(2, 16, 16), width=0.0625)
    write_checkpoint(folder / CHECKPOINT, Checkpoint(
        train=cfg, num_classes=10, input_shape=(2, 16, 16), time_steps=cfg.data.time_steps,
        state_dict=model.state_dict(), class_names=[str(i) for i in range(10)]))
    return folder, cfg


def test_export_measures_the_test_set_tmkt_train_eval_measures(run, tmp_path):
    folder, cfg = run
    evaluated = evaluate_run(folder, "cpu")
    job = export.prepare(folder / CHECKPOINT, tmp_path / "out")
    _, test_set = build_datasets(cfg.data, cfg.seed)  # what evaluate_run builds
    assert 0 < len(job.labels) == evaluated["test_samples"] == len(test_set) <= 10 * LIMIT
    assert job.labels.tolist() == [int(test_set[i][2]) for i in range(len(test_set))]
    quantized = predict_counts(job.quantized.output, job.net.latency())
    assert float(np.mean(quantized == job.labels)) == pytest.approx(evaluated["test_acc"])


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fail_emulator(job):
    raise RuntimeError("emulator broke")


def test_a_failed_export_writes_nothing_and_keeps_the_previous_one(run, tmp_path, monkeypatch):
    checkpoint, out = run[0] / CHECKPOINT, tmp_path / "deploy"
    monkeypatch.setattr(export, "run_emulator", fail_emulator)  # fails after ir/ and samples.npz are written
    with pytest.raises(RuntimeError, match="emulator broke"):
        export.export_checkpoint(checkpoint, target="nir", out=out, samples=2)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a staged copy
    monkeypatch.undo()

    export.export_checkpoint(checkpoint, target="nir", out=out, samples=2)
    (out / "notes.txt").write_text("mine")  # not an export file: an export leaves it alone
    before = listing(out)
    assert {"ir/network.json", "samples.npz", "check.json", "spikes.json", "network.nir"} <= set(before)
    monkeypatch.setattr(export, "run_emulator", fail_emulator)
    with pytest.raises(RuntimeError):
        export.export_checkpoint(checkpoint, target="onnx", out=out, samples=1)
    with pytest.raises(RuntimeError):
        export.rerun(out, target="nir")
    assert listing(out) == before and [p.name for p in tmp_path.iterdir()] == ["deploy"]


def test_a_new_export_replaces_every_old_export_file(run, tmp_path):
    checkpoint, out = run[0] / CHECKPOINT, tmp_path / "deploy"
    export.export_checkpoint(checkpoint, target="nir", out=out, samples=2)
    export.export_checkpoint(checkpoint, target="onnx", out=out, samples=1)
    assert (out / "network.onnx").is_file() and not (out / "network.nir").exists()  # no file of the old IR
    assert export.load_job(out).frames.shape[0] == 1


def test_onnx_export_opens_one_session_for_all_chunks(run, tmp_path, monkeypatch):
    sessions = []

    class Counted(onnxruntime.InferenceSession):
        def __init__(self, *args, **kwargs):
            sessions.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", Counted)
    monkeypatch.setattr(export, "CHUNK_SPIKES", 1)  # one sample per chunk: 3 chunks
    result = export.export_checkpoint(run[0] / CHECKPOINT, target="onnx", out=tmp_path / "o", samples=3)
    assert len(sessions) == 1 and result.comparisons["onnx_vs_emulator"].exact
    assert result.files == {"onnx": "network.onnx"}


def test_a_rerun_refuses_spike_digests_of_an_older_format(run, tmp_path):
    out = tmp_path / "old"
    export.export_checkpoint(run[0] / CHECKPOINT, target="nir", out=out, samples=2)
    assert export.rerun(out, target="nir").exact
    with np.load(out / "samples.npz") as data:
        arrays = {k: data[k] for k in data.files if k != "ref/digest_format"}  # as format 1 wrote it
    for older, marker in ((1, {}), (2, {"ref/digest_format": np.array(2)})):  # 2: blake2b (before format 3)
        np.savez_compressed(out / "samples.npz", **arrays, **marker)
        message = rf"samples\.npz: spike digests of format {older} .* export again"
        with pytest.raises(ValueError, match=message):
            export.load_job(out)
