"""The embedded `ndigits` dataset through the public contract: items, pairing, DVS fraction, cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tmkt_train.data import DatasetError, Geometry, build_dataset, list_datasets, to_tensors
from tmkt_train.data import ndigits as ndigits_module

pytestmark = pytest.mark.usefixtures("fresh_memo")  # tests/conftest.py


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory):
    """A cache of the first 6 digits of each class at T=4, built once for the module."""
    path = tmp_path_factory.mktemp("cache")
    build_dataset("ndigits", "train", cache_dir=path, limit=6, time_steps=4)
    return path


def digits(split, cache, **kw):
    return build_dataset("ndigits", split, cache_dir=cache, limit=6, time_steps=4, **kw)


def test_registry_lists_all_four():
    assert list_datasets() == ["ndigits", "ncaltech101", "cepdvs", "nomniglot"]
    with pytest.raises(DatasetError, match="unknown dataset 'mnist'"):
        build_dataset("mnist", "train")


def test_items_follow_the_contract(small_cache):
    train = digits("train", small_cache)
    assert train.geometry == Geometry(2, 48, 48, 4)
    assert train.classes == [str(d) for d in range(10)]
    rgb, dvs, label = train[0]
    assert rgb.shape == dvs.shape == (2, 48, 48, 4)
    assert rgb.dtype == dvs.dtype == torch.float32 and isinstance(label, int)
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0 and rgb.max() > 0.5
    assert torch.equal(rgb[0, :, :, 0], rgb[1, :, :, 3])  # the same V frame at every step and channel
    assert dvs.sum() > 1000 and torch.equal(dvs, dvs.round())  # raw counts of emulated events


def test_pairing_is_by_class_seeded_and_redrawn_per_epoch(small_cache):
    train = digits("train", small_cache, seed=1)
    store = train.store
    assert torch.equal(store.rgb_labels[train.partners], train.labels)  # same class, training pool
    first = train.partners.clone()
    train.set_epoch(1)
    assert not torch.equal(first, train.partners)
    train.set_epoch(0)
    assert torch.equal(first, train.partners)
    assert torch.equal(digits("train", small_cache, seed=1).partners, first)
    test = digits("test", small_cache)
    assert torch.equal(store.rgb_labels[test.partners], test.labels)  # test pairs with training images


def test_dvs_fraction_keeps_a_stratified_subset_but_all_rgb(small_cache):
    full = digits("train", small_cache)
    scarce = digits("train", small_cache, dvs_fraction=0.1, seed=2)
    assert all(n == 1 for n in scarce.class_counts().values())  # at least one per class
    assert set(scarce.indices.tolist()) <= set(full.indices.tolist())
    assert len(scarce.rgb_only()) == len(full.rgb_only()) == len(full)
    assert torch.equal(scarce.indices, digits("train", small_cache, dvs_fraction=0.1, seed=2).indices)
    assert len(digits("test", small_cache, dvs_fraction=0.1)) == len(digits("test", small_cache))
    with pytest.raises(DatasetError, match="dvs_fraction"):
        digits("train", small_cache, dvs_fraction=0.0)


def test_splits_are_disjoint_and_to_tensors_matches_items(small_cache):
    train, test = digits("train", small_cache), digits("test", small_cache)
    assert not set(train.indices.tolist()) & set(test.indices.tolist())
    assert len(train) + len(test) == 60
    rgb, dvs, labels = to_tensors(test)
    assert rgb.shape == dvs.shape == (len(test), 2, 48, 48, 4)
    for i in (0, len(test) - 1):
        item = test[i]
        assert torch.equal(rgb[i], item[0]) and torch.equal(dvs[i], item[1]) and labels[i] == item[2]
    seq, same, rgb_labels = to_tensors(train.rgb_only())
    assert seq.shape[0] == len(rgb_labels) and torch.equal(seq, same)
    assert torch.equal(train.rgb_only()[2][0], seq[2])


def test_cache_is_reused_not_rebuilt(small_cache, monkeypatch):
    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(ndigits_module, "emulate_saccades", no_rebuild)
    assert len(digits("train", small_cache)) > 0


def test_failed_build_leaves_no_cache_behind(tmp_path, monkeypatch):
    calls = []

    def fail_on_third(image, seed):
        calls.append(seed)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return np.zeros(0, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])

    monkeypatch.setattr(ndigits_module, "emulate_saccades", fail_on_third)
    with pytest.raises(RuntimeError, match="simulated"):
        build_dataset("ndigits", "train", cache_dir=tmp_path, limit=2)
    assert list(tmp_path.iterdir()) == []


def test_default_path_builds_the_full_dataset(tmp_path, monkeypatch):
    """The real default: all 1,797 digits, T=10, 48×48, cache under $TMKT_CACHE (what CI builds)."""
    monkeypatch.setenv("TMKT_CACHE", str(tmp_path))
    train, test = build_dataset("ndigits", "train"), build_dataset("ndigits", "test")
    assert len(train) + len(test) == 1797
    assert len(test) == pytest.approx(0.2 * 1797, abs=10)
    assert train.geometry == Geometry(2, 48, 48, 10)
    assert len(list(tmp_path.glob("ndigits-*.npz"))) == 1
