"""Atomic writes and staged folders: results appear with normal permissions; failures leave nothing."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from tmkt_common.atomic import atomic_write, default_mode, staged_folder
from tmkt_common.npz import write_npz


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_gives_the_permissions_open_would(tmp_path):
    with atomic_write(tmp_path / "result.json", "w") as handle:
        handle.write("{}")
    with open(tmp_path / "plain.json", "w") as handle:
        handle.write("{}")
    assert _mode(tmp_path / "result.json") == _mode(tmp_path / "plain.json") == default_mode()


def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("stop")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_staged_folder_gets_the_permissions_mkdir_would(tmp_path):
    with staged_folder(tmp_path / "export", owned=["a.txt"]) as stage:
        (stage / "a.txt").write_text("new")
    (tmp_path / "plain").mkdir()
    assert _mode(tmp_path / "export") == _mode(tmp_path / "plain") == default_mode(directory=True)
    assert (tmp_path / "export" / "a.txt").read_text() == "new"


def test_npz_files_read_back_with_numpy_and_refuse_objects_whole(tmp_path):
    arrays = {"frames": np.arange(600, dtype=np.uint8).reshape(2, 3, 100), "a/b": np.int64(7), "name": "x"}
    write_npz(tmp_path / "f.npz", arrays)
    with np.load(tmp_path / "f.npz") as data:
        assert sorted(data.files) == ["a/b", "frames", "name"]
        assert np.array_equal(data["frames"], arrays["frames"]) and data["a/b"] == 7 and data["name"] == "x"
    with pytest.raises(ValueError, match="pickle"):
        write_npz(tmp_path / "f.npz", {"bad": np.array([{}], dtype=object)})
    with np.load(tmp_path / "f.npz") as data:  # the failed write left the old file
        assert "frames" in data.files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npz"]
