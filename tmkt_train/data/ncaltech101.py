"""`ncaltech101`: N-Caltech101 events (ATIS `.bin`) paired with Caltech101 images, classes aligned by name.

Layout: `DIR/N-Caltech101/<class>/*.bin`, and the images at
`DIR/Caltech101/101_ObjectCategories/<class>/*.jpg` (torchvision's extraction, also `caltech101/…`) or
`DIR/Caltech101/<class>/*.jpg`. N-Caltech101 has `BACKGROUND_Google` (not a class: dropped) and
`Faces_easy`, which pairs with `Faces` where the image side has no `Faces_easy`. The split is the KT code's:
per class, in file order, the first floor(90 %) of the recordings train and the rest test; a test
recording's source image (same file stem) is kept out of the RGB training pool so no test picture is seen
in training.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from tmkt_common.errors import DatasetError

from .assemble import frame_files, load_images
from .events_io import read_atis_bin
from .folders import class_folders, files_in, first_existing, require_dir
from .splits import first_per_class
from .store import FrameStore, stack_store

TRAIN_FRACTION = 0.9
NOT_CLASSES = {"BACKGROUND_Google"}
SACCADES_SPAN_US = 250_000  # three ~100 ms saccades per recording (Orchard et al. 2015), less slack
IMAGE_ALIASES = {"Faces_easy": ("Faces_easy", "Faces")}  # event class → image folders to try, in order


def image_root(data_dir: Path) -> Path:
    return first_existing(
        [
            data_dir / "Caltech101" / "101_ObjectCategories",
            data_dir / "caltech101" / "101_ObjectCategories",
            data_dir / "Caltech101",
        ],
        "Caltech101 images",
    )


def align_classes(
    event_classes: list[str], image_classes: list[str]
) -> tuple[dict[str, str], dict[str, Any]]:
    """Map event class → image class by name (with aliases); report what matched and what was dropped."""
    matched: dict[str, str] = {}
    for name in event_classes:
        if name in NOT_CLASSES:
            continue
        candidate = next((c for c in IMAGE_ALIASES.get(name, (name,)) if c in image_classes), None)
        if candidate is not None:
            matched[name] = candidate
    report = {
        "matched": len(matched),
        "renamed": {e: i for e, i in matched.items() if e != i},
        "dropped_event_classes": sorted(set(event_classes) - set(matched)),
        "dropped_image_classes": sorted(set(image_classes) - set(matched.values())),
    }
    return matched, report


def build_store(data_dir: Path, *, time_steps: int, size: int, limit: int | None = None) -> FrameStore:
    """Read and frame every matched recording; `limit` keeps the first N recordings of each class."""
    events_root = require_dir(data_dir / "N-Caltech101", "N-Caltech101 events")
    event_dirs, image_dirs = class_folders(events_root), class_folders(image_root(data_dir))
    matched, report = align_classes(list(event_dirs), list(image_dirs))
    if not matched:
        raise DatasetError(f"{events_root}: no event class has a matching Caltech101 image folder")
    classes = sorted(matched)
    bins, labels, train, images, image_labels = [], [], [], [], []
    for label, name in enumerate(classes):
        files = files_in(event_dirs[name], ".bin")[:limit]
        in_train = first_per_class([label] * len(files), TRAIN_FRACTION)
        test_stems = {f.stem for f, keep in zip(files, in_train, strict=True) if not keep}
        pool = [p for p in files_in(image_dirs[matched[name]], ".jpg") if p.stem not in test_stems]
        bins += files
        labels += [label] * len(files)
        train += in_train.tolist()
        images += pool
        image_labels += [label] * len(pool)
    frames = frame_files(
        bins, partial(read_atis_bin, min_span_us=SACCADES_SPAN_US), time_steps=time_steps, size=size,
        description="framing N-Caltech101",
    )
    rgb = load_images(images, size, "loading Caltech101 images")
    return stack_store(classes, frames, labels, train, rgb, image_labels, report)

