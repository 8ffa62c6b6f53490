"""`cepdvs`: CEP-DVS events (`.mat` with x, y, ts, p ∈ {-1, 1}) paired with their index-aligned `.jpg` images.

Layout: class folders holding `<n>.mat` and the source image `<n>.jpg` with the same stem, either side by
side (`DIR/<class>/`) or in two trees (`DIR/events/<class>/*.mat`, `DIR/images/<class>/*.jpg`). 20 classes
in the public set, 500 recordings each. Split as the KT protocol: per class, in numeric order, recordings
[0, 250) train and [250, 350) test; later ones are not read. The RGB pool is the images of the training
recordings. `limit` N keeps the first N of each class's [0, 350) and splits them in the same 250:100 ratio.
"""

from __future__ import annotations

from pathlib import Path

from tmkt_common.errors import DatasetError

from .assemble import frame_files, load_images
from .events_io import read_cepdvs_mat
from .folders import class_folders, files_in
from .store import FrameStore, stack_store

TRAIN_END, TEST_END = 250, 350  # per class: [0, TRAIN_END) train, [TRAIN_END, TEST_END) test


def roots(data_dir: Path) -> tuple[Path, Path]:
    """(event root, image root): `events/` + `images/` when both exist, else `DIR` for both."""
    if (data_dir / "events").is_dir() and (data_dir / "images").is_dir():
        return data_dir / "events", data_dir / "images"
    return data_dir, data_dir


def build_store(data_dir: Path, *, time_steps: int, size: int, limit: int | None = None) -> FrameStore:
    """Read and frame every recording; `limit` keeps the first N recordings of each class."""
    event_root, image_root = roots(data_dir)
    classes = sorted(class_folders(event_root))
    mats, labels, train = [], [], []
    kept, train_end = TEST_END, TRAIN_END
    if limit is not None:
        kept, train_end = min(limit, TEST_END), round(min(limit, TEST_END) * TRAIN_END / TEST_END)
    for label, name in enumerate(classes):
        files = files_in(event_root / name, ".mat")[:kept]
        mats += files
        labels += [label] * len(files)
        train += [rank < train_end for rank in range(len(files))]
    jpgs = [image_root / m.parent.name / f"{m.stem}.jpg" for m in mats]
    missing = [str(j) for j in jpgs if not j.is_file()]
    if missing:
        raise DatasetError(f"event recordings without their index-aligned image: {missing[:3]}")
    frames = frame_files(
        mats, read_cepdvs_mat, time_steps=time_steps, size=size,
        description="framing CEP-DVS",
    )
    pool = [j for j, keep in zip(jpgs, train, strict=True) if keep]
    rgb = load_images(pool, size, "loading CEP-DVS images")
    pool_labels = [c for c, keep in zip(labels, train, strict=True) if keep]
    report = {"classes": len(classes), "expected_classes": 20}
    return stack_store(classes, frames, labels, train, rgb, pool_labels, report)

