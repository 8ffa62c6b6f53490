"""Event readers and framing on real recordings and on files written in each real format."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image
from support import AEDAT4_SAMPLE as AEDAT4
from support import NMNIST_SAMPLE as NMNIST

from tmkt_train.data import DatasetError
from tmkt_train.data.events_io import (
    EVENT_DTYPE,
    encode_atis,
    make_events,
    read_aedat4,
    read_atis_bin,
    read_cepdvs_mat,
    read_events,
)
from tmkt_train.data.framing import frame_events
from tmkt_train.data.rgb import load_v_channel, rgb_sequence


def test_real_nmnist_recording_reads_as_documented():
    events = read_atis_bin(NMNIST)
    assert events.dtype == EVENT_DTYPE
    assert len(events) == 4325
    assert 0.45 < events["p"].mean() < 0.55
    assert events["x"].max() < 34 and events["y"].max() < 34
    assert np.all(np.diff(events["t"]) >= 0)


def test_written_atis_file_round_trips(tmp_path):
    written = make_events([1, 2, 3, 200], [4, 5, 6, 150], [5, 300, 70_000, 1_000_000], [0, 1, 1, 0])
    path = tmp_path / "image_0001.bin"
    path.write_bytes(encode_atis(written))
    assert np.array_equal(read_events(path), written)
    real = read_atis_bin(NMNIST)
    assert encode_atis(real) == NMNIST.read_bytes()  # the sample has no overflow records: exact round trip
    with pytest.raises(DatasetError, match="2\\^23"):
        encode_atis(make_events([0], [0], [1 << 23], [1]))


def test_truncated_atis_file_is_one_error_naming_it(tmp_path):
    path = tmp_path / "cut.bin"
    path.write_bytes(NMNIST.read_bytes()[:-2])
    with pytest.raises(DatasetError, match="cut.bin.*truncated"):
        read_atis_bin(path)


def test_real_aedat4_recording_reads_through_tonic():
    events = read_aedat4(AEDAT4)
    assert events.dtype == EVENT_DTYPE
    assert len(events) == 111_954
    assert set(np.unique(events["p"])) == {0, 1}


def test_truncated_aedat4_is_one_error_naming_it(tmp_path):
    path = tmp_path / "cut.aedat4"
    path.write_bytes(AEDAT4.read_bytes()[:400_000])
    with pytest.raises(DatasetError, match="cut.aedat4"):
        read_aedat4(path)


def test_cepdvs_mat_maps_polarity_and_sorts(tmp_path):
    path = tmp_path / "0.mat"
    scipy.io.savemat(path, {"x": [[3, 1]], "y": [[2, 0]], "ts": [[20, 10]], "p": [[1, -1]]})
    events = read_cepdvs_mat(path)
    assert events["t"].tolist() == [10, 20]
    assert events["p"].tolist() == [0, 1]


def test_broken_mat_files_name_themselves(tmp_path):
    good = tmp_path / "good.mat"
    scipy.io.savemat(good, {"x": [1], "y": [1], "ts": [1], "p": [1]})
    cut = tmp_path / "cut.mat"
    cut.write_bytes(good.read_bytes()[:150])
    with pytest.raises(DatasetError, match="cut.mat"):
        read_cepdvs_mat(cut)
    fieldless = tmp_path / "fieldless.mat"
    scipy.io.savemat(fieldless, {"x": [1]})
    with pytest.raises(DatasetError, match="fieldless.mat.*y"):
        read_cepdvs_mat(fieldless)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="unknown event file type"):
        read_events(tmp_path / "x.txt")
    with pytest.raises(DatasetError, match="not found"):
        read_events(tmp_path / "gone.bin")


def test_framing_counts_every_event_into_slayer_layout():
    events = read_atis_bin(NMNIST)
    frames = frame_events(events, time_steps=10, size=34, sensor_size=(34, 34))
    assert frames.shape == (2, 34, 34, 10) and frames.dtype == np.float32
    t = events["t"]
    binned = t < t[0] + 10 * ((t[-1] - t[0]) // 10)  # tonic's bins are (t_last - t_first) // T µs wide
    assert frames.sum() == binned.sum() >= len(events) - 2
    assert frames[1].sum() == events["p"][binned].sum()  # channel 1 is ON


def test_framing_resizes_real_davis_recording():
    frames = frame_events(read_aedat4(AEDAT4), time_steps=6, size=48, sensor_size=(346, 260))
    assert frames.shape == (2, 48, 48, 6)
    assert (frames > 0).any(axis=(0, 1, 2)).all()  # every time bin has events


def test_rgb_is_v_channel_repeated_over_channels_and_time(tmp_path):
    path = tmp_path / "img.jpg"
    pixels = np.zeros((60, 80, 3), dtype=np.uint8)
    pixels[:, :40] = (0, 0, 255)  # pure blue: V = 1
    Image.fromarray(pixels).save(path, quality=100)
    value = load_v_channel(path, 48)
    assert value.shape == (48, 48)
    assert value[:, :20].mean() > 0.95 and value[:, 30:].max() < 0.05
    seq = rgb_sequence(torch.from_numpy(value), 7)
    assert seq.shape == (2, 48, 48, 7)
    assert torch.equal(seq[1, :, :, 6], seq[0, :, :, 0])


def test_unreadable_image_names_itself(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="broken.jpg"):
        load_v_channel(path, 48)
