"""Real-dataset loaders on tiny fixtures written in each public format, plus the `datasets` command."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from real_trees import write_cepdvs, write_ncaltech101, write_nomniglot
from support import AEDAT4_SAMPLE as AEDAT4
from support import NMNIST_SAMPLE as NMNIST
from typer.testing import CliRunner

from tmkt_train.cli import app
from tmkt_train.data import DatasetError, DatasetWarning, build_dataset, forget_stores
from tmkt_train.data.events_io import read_aedat4

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
    forget_stores()
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


def frames_and_classes(root: Path, cache: Path) -> tuple[list[str], dict[str, int], torch.Tensor]:
    train = build_dataset("cepdvs", "train", data_dir=root, cache_dir=cache, time_steps=4)
    return train.classes, train.class_counts(), train.tensors()[1]


def move(src: Path, dst: Path) -> None:
    """`mv`: the file keeps its size and mtime (what fooled a key of count, total bytes and newest mtime)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    src.rename(dst)


def test_renaming_a_class_folder_rebuilds_the_cache(cepdvs_dir, tmp_path):
    cache = tmp_path / "c"
    assert frames_and_classes(cepdvs_dir, cache)[0] == ["fish", "trees"]
    for side in ("events", "images"):
        move(cepdvs_dir / side / "fish", cepdvs_dir / side / "salmon")
    classes, counts, _ = frames_and_classes(cepdvs_dir, cache)  # no memo cleared: memory must notice too
    assert classes == ["salmon", "trees"] and counts == {"salmon": 4, "trees": 4}
    assert len(list(cache.iterdir())) == 2


def test_moving_a_recording_to_another_class_rebuilds_the_cache(cepdvs_dir, tmp_path):
    cache = tmp_path / "c"
    assert frames_and_classes(cepdvs_dir, cache)[1] == {"fish": 4, "trees": 4}
    for side, suffix in (("events", ".mat"), ("images", ".jpg")):
        move(cepdvs_dir / side / "fish" / f"3{suffix}", cepdvs_dir / side / "trees" / f"4{suffix}")
    store = build_dataset("cepdvs", "test", data_dir=cepdvs_dir, cache_dir=cache, time_steps=4).store
    assert store.dvs_labels.bincount().tolist() == [3, 5]  # fish/3.mat is now trees/4.mat


def test_editing_a_recording_rebuilds_the_cache(cepdvs_dir, tmp_path):
    """Same size, same file count, an mtime that is not the newest: only a per-file key sees the edit."""
    cache = tmp_path / "c"
    before = frames_and_classes(cepdvs_dir, cache)[2]
    edited = cepdvs_dir / "events" / "fish" / "0.mat"
    stat = edited.stat()
    scipy.io.savemat(edited, {"x": np.full(300, 5), "y": np.full(300, 7), "ts": np.arange(300) * 600,
                              "p": np.ones(300, dtype=np.int64)})
    assert edited.stat().st_size == stat.st_size
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))
    after = frames_and_classes(cepdvs_dir, cache)[2]
    assert not torch.equal(before[0], after[0]) and torch.equal(before[1:], after[1:])
    forget_stores()
    assert torch.equal(frames_and_classes(cepdvs_dir, tmp_path / "fresh")[2], after)


@pytest.mark.parametrize("rows, match", [
    ([(0, 0, 10_000), (1, 5_000_000, 5_010_000)], "sample 2 \\[.*\\) µs holds no event of 0001.aedat4"),
    ([(0, 30_000, 40_000), (1, 10_000, 20_000)], "sample 2 starts \\(.*\\) no later than sample 1"),
    ([(0, 30_000, 20_000)], "sample 1 ends \\(.*\\) before it starts"),
    ([(0, "inf", 1)], "unreadable sample CSV"),
])
def test_nomniglot_windows_must_be_ordered_and_inside_the_recording(nomniglot_dir, tmp_path, rows, match):
    t0 = int(read_aedat4(AEDAT4)["t"][0])
    csv_path = nomniglot_dir / "dvs_background" / "Latin" / "character02" / "0001.csv"
    lines = [f"{i},{s},{e}" if isinstance(s, str) else f"{i},{t0 + s},{t0 + e}" for i, s, e in rows]
    csv_path.write_text("index,start,end\n" + "\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=f"{csv_path}: .*{match}"):
        build_dataset("nomniglot", "train", data_dir=nomniglot_dir, cache_dir=tmp_path, time_steps=4)


def test_nomniglot_window_reaching_past_the_recording_loads_with_a_warning(nomniglot_dir, tmp_path):
    events = read_aedat4(AEDAT4)
    last = int(events["t"][-1])
    csv_path = nomniglot_dir / "dvs_background" / "Latin" / "character01" / "0001.csv"
    rows = csv_path.read_text().splitlines()
    rows[-1] = f"19,{last - 10_000},{last + 50_000}"  # a cut recording: the last drawing runs past its end
    csv_path.write_text("\n".join(rows) + "\n")
    with pytest.warns(DatasetWarning, match=f"{csv_path}: sample 20 .* reaches outside 0001.aedat4"):
        test = build_dataset("nomniglot", "test", data_dir=nomniglot_dir, cache_dir=tmp_path, time_steps=4)
    assert len(test) == 10
    forget_stores()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetWarning)  # loaded from the cache: no new warning, but noted
        cached = build_dataset("nomniglot", "test", data_dir=nomniglot_dir, cache_dir=tmp_path, time_steps=4)
    assert [f"{csv_path}: sample 20" in w for w in cached.store.report["warnings"]] == [True]


def one_line_error(output: str, path: Path) -> bool:
    """The CLI printed one error naming `path` and no traceback (rich may wrap a long line when piped)."""
    return "Traceback" not in output and str(path) in "".join(output.split()) and output.count("error:") == 1


def test_cli_names_the_damaged_file_and_exits_2(ncaltech_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TMKT_CACHE", str(tmp_path / "cache"))
    damaged = ncaltech_dir / "N-Caltech101" / "airplanes" / "image_0003.bin"
    damaged.write_bytes(np.random.default_rng(3).bytes(5 * 400))  # random bytes, a multiple of 5 long
    listed = runner.invoke(app, ["datasets", "ncaltech101", "--data-dir", str(ncaltech_dir)])
    assert listed.exit_code == 2 and one_line_error(listed.output, damaged), listed.output
    out = tmp_path / "run"
    fitted = runner.invoke(app, ["fit", "--dataset", "ncaltech101", "--data-dir", str(ncaltech_dir),
                                 "--out", str(out), "--epochs", "1", "--device", "cpu"])
    assert fitted.exit_code == 2 and one_line_error(fitted.output, damaged), fitted.output
    assert not out.exists() and not (tmp_path / "cache").exists()  # nothing half-written, nothing cached
