"""Event readers and framing on real recordings and on files written in each real format."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.io
import tonic
import torch
from PIL import Image
from support import AEDAT4_SAMPLE as AEDAT4
from support import NMNIST_SAMPLE as NMNIST

from tmkt_common.errors import DatasetWarning
from tmkt_train.data import DatasetError
from tmkt_train.data.events_io import (
    ATIS_SENSOR,
    EVENT_DTYPE,
    NMNIST_SENSOR,
    declared_aedat4_size,
    encode_atis,
    make_events,
    read_aedat4,
    read_atis_bin,
    read_cepdvs_mat,
    read_events,
)
from tmkt_train.data.framing import frame_events
from tmkt_train.data.ncaltech101 import SACCADES_SPAN_US
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


def cut(data: bytes, drop_front: int = 0, drop_at: int | None = None, drop: int = 0) -> bytes:
    """`data` with bytes lost (at the front, or `drop` bytes at `drop_at`), cut to a multiple of 5 bytes."""
    data = data[drop_front:] if drop_at is None else data[:drop_at] + data[drop_at + drop:]
    return data[: len(data) // 5 * 5]


@pytest.mark.parametrize("sensor", [NMNIST_SENSOR, ATIS_SENSOR])
@pytest.mark.parametrize("damage", [
    dict(drop_front=1), dict(drop_front=2), dict(drop_front=3), dict(drop_front=4),
    dict(drop_at=10_002, drop=2),  # two bytes lost mid-file: every later record misaligned
])
def test_atis_file_cut_to_a_multiple_of_5_but_misaligned_is_refused(tmp_path, sensor, damage):
    path = tmp_path / "misaligned.bin"
    path.write_bytes(cut(NMNIST.read_bytes(), **damage))
    assert path.stat().st_size % 5 == 0
    with pytest.raises(DatasetError, match=f"{path}: .*(outside the|run backwards)"):
        read_atis_bin(path, sensor)


def test_atis_file_of_random_bytes_empty_or_without_events_is_refused(tmp_path):
    noise = tmp_path / "noise.bin"
    noise.write_bytes(np.random.default_rng(0).bytes(5 * 2000))
    for sensor in (NMNIST_SENSOR, ATIS_SENSOR):
        with pytest.raises(DatasetError, match="noise.bin: .*(outside the|run backwards)"):
            read_atis_bin(noise, sensor)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match="empty.bin: empty"):
        read_atis_bin(empty)
    overflow_only = tmp_path / "overflow.bin"
    overflow_only.write_bytes(bytes([0, 240, 0, 0, 0]) * 3)  # y == 240: timer overflow records, no events
    with pytest.raises(DatasetError, match="overflow.bin: .*no events"):
        read_atis_bin(overflow_only)


def test_atis_events_outside_the_sensor_are_refused(tmp_path):
    path = tmp_path / "wide.bin"
    path.write_bytes(encode_atis(make_events([3, 40], [5, 6], [10, 20], [1, 0])))
    read_atis_bin(path)  # fits the ATIS sensor (N-Caltech101)
    with pytest.raises(DatasetError, match="wide.bin: 1 events outside the 34×34 sensor.*x=40"):
        read_atis_bin(path, NMNIST_SENSOR)


def test_atis_file_cut_at_a_record_boundary_loads_with_a_warning(tmp_path):
    """A clean cut is a valid, shorter recording: only its span (less than the saccades take) shows it."""
    path = tmp_path / "short.bin"
    path.write_bytes(NMNIST.read_bytes()[: 5 * 1500])
    with pytest.warns(DatasetWarning, match="short.bin: the recording spans only .* ms.*cut short"):
        events = read_atis_bin(path, NMNIST_SENSOR, min_span_us=SACCADES_SPAN_US)
    assert len(events) == 1500
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetWarning)
        assert len(read_atis_bin(NMNIST, NMNIST_SENSOR, min_span_us=SACCADES_SPAN_US)) == 4325


def test_aedat4_events_checked_against_the_sensor(tmp_path):
    assert declared_aedat4_size(AEDAT4) == (320, 240)  # the file's own event stream header
    with pytest.raises(DatasetError, match="dvs_sample.aedat4: .*outside the 300×200 sensor"):
        read_aedat4(AEDAT4, sensor_size=(300, 200))
    for name, data in (("empty.aedat4", b""), ("noise.aedat4", np.random.default_rng(1).bytes(20_000))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DatasetError, match=f"{name}: truncated or corrupt"):
            read_aedat4(tmp_path / name)


def test_aedat4_out_of_time_order_loads_sorted_with_a_warning(monkeypatch):
    decoded = tonic.io.read_aedat4(str(AEDAT4))
    monkeypatch.setattr(tonic.io, "read_aedat4", lambda path: decoded[::-1])  # the real events, reversed
    with pytest.warns(DatasetWarning, match="dvs_sample.aedat4: AEDAT4 events out of time order"):
        events = read_aedat4(AEDAT4)
    assert len(events) == 111_954 and np.all(np.diff(events["t"]) >= 0)


@pytest.mark.parametrize("fields, match", [
    (dict(x=[1, -2]), "coordinates must lie in"),
    (dict(y=[1, 5000]), "coordinates must lie in"),
    (dict(x=[1.5, 2]), "field x holds values that are not whole numbers"),
    (dict(ts=[1, np.nan]), "field ts holds values that are not whole numbers"),
    (dict(ts=[-5, 3]), "timestamps be ≥ 0"),
    (dict(p=[1, 2]), "polarity p must be -1 or 1"),
    (dict(x=["ab"]), "field x is not numeric"),
    (dict(x=[], y=[], ts=[], p=[]), "equally long and not empty"),
])
def test_cepdvs_mat_fields_must_be_sane(tmp_path, fields, match):
    path = tmp_path / "odd.mat"
    scipy.io.savemat(path, {"x": [3, 1], "y": [2, 0], "ts": [20, 10], "p": [1, -1]} | fields)
    with pytest.raises(DatasetError, match=f"odd.mat: .*{match}"):
        read_cepdvs_mat(path)


def test_cepdvs_mat_of_random_bytes_or_empty_is_refused(tmp_path):
    for name, data in (("empty.mat", b""), ("noise.mat", np.random.default_rng(2).bytes(4000))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DatasetError, match=f"{name}: truncated or corrupt"):
            read_cepdvs_mat(tmp_path / name)
