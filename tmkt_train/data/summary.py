"""Counts per split and class of a loaded dataset, as a JSON-ready dict (the `datasets` command prints it)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .paired import PairedDataset


def summarize(name: str, train: PairedDataset, test: PairedDataset) -> dict[str, Any]:
    rgb = train.rgb_only().class_counts()
    train_dvs, test_dvs = train.class_counts(), test.class_counts()
    return {
        "dataset": name,
        "geometry": asdict(train.geometry),
        "num_classes": len(train.classes),
        "train": {"dvs": len(train), "rgb": sum(rgb.values())},
        "test": {"dvs": len(test)},
        "per_class": {
            c: {"train_dvs": train_dvs[c], "train_rgb": rgb[c], "test_dvs": test_dvs[c]}
            for c in train.classes
        },
        "source": train.store.report,
    }
