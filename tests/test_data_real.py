"""Real-dataset loaders on tiny fixtures written in each public format, plus the `datasets` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from real_trees import NMNIST, write_cepdvs, write_ncaltech101, write_nomniglot
from typer.testing import CliRunner

from tmkt_train.cli import app
from tmkt_train.data import DatasetError, build_dataset, load_store

pytestmark = pytest.mark.usefixtures("fresh_memo")  # tests/conftest.py


@pytest.fixture
def ncaltech_dir(tmp_path) -> Path:
    """N-Caltech101 with BACKGROUND_Google and Faces_easy; torchvision-style Caltech101 with Faces."""
    root = write_ncaltech101(tmp_path / "ncal", dict.fromkeys(("BACKGROUND_Google", "Faces_easy", "airplanes",
                                                               "only_events"), 4),
                             dict.fromkeys(("Faces", "airplanes", "only_images"), 5))
    shutil.copy(NMNIST, root / "N-Caltech101" / "airplanes" / "image_0005.bin")  # a real ATIS recording
    return root


@pytest.fixture
def cepdvs_dir(tmp_path) -> Path:
    """Two classes of 4 recordings; image grey level encodes the index (index i → 50·(i+1))."""
    return write_cepdvs(tmp_path / "cep", ("fish", "trees"), 4)


@pytest.fixture
def nomniglot_dir(tmp_path) -> Path:
    """Two characters, each the real DAVIS AEDAT4 recording cut into 20 windows by a CSV, plus 20 PNGs."""
    return write_nomniglot(tmp_path / "nomni", ("character01", "character02"))


def test_ncaltech101_aligns_classes_by_name_and_reports_it(ncaltech_dir, tmp_path):
    train = build_dataset("ncaltech101", "train", data_dir=ncaltech_dir, cache_dir=tmp_path / "c")
    test = build_dataset("ncaltech101", "test", data_dir=ncaltech_dir, cache_dir=tmp_path / "c")
    assert train.classes == ["Faces_easy", "airplanes"]
    report = train.store.report
    assert report["renamed"] == {"Faces_easy": "Faces"}
    assert report["dropped_event_classes"] == ["BACKGROUND_Google", "only_events"]
    assert report["dropped_image_classes"] == ["only_images"]
    assert train.class_counts() == {"Faces_easy": 3, "airplanes": 4}
    assert test.class_counts() == {"Faces_easy": 1, "airplanes": 1}
    assert train.rgb_only().class_counts() == {"Faces_easy": 4, "airplanes": 4}  # test sources held out
    rgb, dvs, label = train[0]
    assert rgb.shape == dvs.shape == (2, 48, 48, 10) and dvs.sum() > 0


def test_cepdvs_limit_keeps_the_protocol_ratio(cepdvs_dir, tmp_path):
    """`limit` 4 of [0, 350) split 250:100 → 3 train, 1 test per class (the full protocol: test_presets)."""
    options = dict(data_dir=cepdvs_dir, cache_dir=tmp_path, time_steps=6, limit=4)
    train, test = build_dataset("cepdvs", "train", **options), build_dataset("cepdvs", "test", **options)
    assert train.classes == ["fish", "trees"] and len(train) == 6 and len(test) == 2
    greys = {round(v, 1) for v in train.store.rgb.float().mean(dim=(1, 2)).tolist()}
    assert greys == {0.2, 0.4, 0.6}  # images of recordings 0, 1 and 2 only (grey 50, 100 and 150)
    rgb, dvs, _ = train.tensors()
    assert dvs.shape == rgb.shape == (6, 2, 48, 48, 6) and (dvs.sum(dim=(1, 2, 3, 4)) > 0).all()


def test_nomniglot_cuts_recordings_by_csv_windows(nomniglot_dir, tmp_path):
    train = build_dataset("nomniglot", "train", data_dir=nomniglot_dir, cache_dir=tmp_path, time_steps=4)
    test = build_dataset("nomniglot", "test", data_dir=nomniglot_dir, cache_dir=tmp_path, time_steps=4)
    assert train.classes == ["Latin/character01", "Latin/character02"]
    assert train.class_counts() == {"Latin/character01": 15, "Latin/character02": 15}
    assert len(test) == 10 and len(train.rgb_only()) == 30
    dvs = train.tensors()[1]
    assert (dvs.sum(dim=(1, 2, 3)) > 0).all()  # every window holds events in every time bin
    assert not torch.equal(dvs[0], dvs[1])  # different windows, different frames


def test_cache_inside_the_data_folder_is_still_reused(cepdvs_dir):
    cache = cepdvs_dir / "cache"
    build_dataset("cepdvs", "train", data_dir=cepdvs_dir, cache_dir=cache)
    saved = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    load_store.cache_clear()
    build_dataset("cepdvs", "test", data_dir=cepdvs_dir, cache_dir=cache)
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == saved


def test_missing_folder_and_no_data_dir_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="give data_dir"):
        build_dataset("cepdvs", "train", cache_dir=tmp_path)
    with pytest.raises(DatasetError, match=str(tmp_path / "nowhere")):
        build_dataset("ncaltech101", "train", data_dir=tmp_path / "nowhere", cache_dir=tmp_path)


def test_empty_class_folder_names_it(ncaltech_dir, tmp_path):
    empty = ncaltech_dir / "N-Caltech101" / "airplanes"
    shutil.rmtree(empty)
    empty.mkdir()
    with pytest.raises(DatasetError, match=f"{empty}: empty class folder"):
        build_dataset("ncaltech101", "train", data_dir=ncaltech_dir, cache_dir=tmp_path / "c")


def test_truncated_event_file_names_it_and_leaves_no_cache(ncaltech_dir, tmp_path):
    broken = ncaltech_dir / "N-Caltech101" / "airplanes" / "image_0002.bin"
    broken.write_bytes(broken.read_bytes()[:-3])
    cache = tmp_path / "c"
    with pytest.raises(DatasetError, match=f"{broken}: truncated"):
        build_dataset("ncaltech101", "train", data_dir=ncaltech_dir, cache_dir=cache)
    assert not cache.exists() or not any(cache.iterdir())


def test_missing_image_partners_are_named(cepdvs_dir, nomniglot_dir, tmp_path):
    (cepdvs_dir / "images" / "fish" / "2.jpg").unlink()
    with pytest.raises(DatasetError, match="2.jpg"):
        build_dataset("cepdvs", "train", data_dir=cepdvs_dir, cache_dir=tmp_path)
    shutil.rmtree(nomniglot_dir / "images_background")
    with pytest.raises(DatasetError, match="Omniglot images of Latin/character01"):
        build_dataset("nomniglot", "train", data_dir=nomniglot_dir, cache_dir=tmp_path)


runner = CliRunner()


def test_datasets_command_lists_loads_and_previews(cepdvs_dir, tmp_path):
    listed = runner.invoke(app, ["datasets"])
    assert listed.exit_code == 0
    assert all(name in listed.output for name in ("ndigits", "ncaltech101", "cepdvs", "nomniglot"))
    png, summary = tmp_path / "preview.png", tmp_path / "summary.json"
    result = runner.invoke(app, [
        "datasets", "cepdvs", "--data-dir", str(cepdvs_dir), "--cache-dir", str(tmp_path / "c"),
        "--preview", str(png), "--json", str(summary),
    ])
    assert result.exit_code == 0, result.output
    assert "fish" in result.output and "total" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    counts = json.loads(summary.read_text())
    assert counts["train"] == {"dvs": 8, "rgb": 8} and counts["test"] == {"dvs": 0}  # all 4 < 250


def test_datasets_command_bad_input_is_one_line_and_nonzero(tmp_path):
    unknown = runner.invoke(app, ["datasets", "nmnist"])
    assert unknown.exit_code == 2 and "unknown dataset 'nmnist'" in unknown.output
    missing = runner.invoke(app, ["datasets", "nomniglot", "--data-dir", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "none" in missing.output and "Traceback" not in missing.output
